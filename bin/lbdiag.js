#!/usr/bin/env node
import { main } from '../dist/src/cli.js';

main(process.argv);
