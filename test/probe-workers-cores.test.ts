/** `--workers auto`: the CPUs this process may run on, capped by a cgroup CPU quota (src/probe/cores.ts). */
import assert from 'node:assert/strict';
import test from 'node:test';
import { availableCores, cgroupCpuLimit } from '../src/probe/cores.js';
import { parseWorkers } from '../src/probe/workers.js';

const fs = (files: Record<string, string>) => (file: string) => files[file];

test('cgroup v2: the tightest cpu.max on the cgroup and its parents, rounded up; "max" is no limit', () => {
  const pod = fs({ '/proc/self/cgroup': '0::/kubepods/pod1/ctr\n', '/sys/fs/cgroup/kubepods/pod1/ctr/cpu.max': 'max 100000\n', '/sys/fs/cgroup/kubepods/pod1/cpu.max': '150000 100000\n', '/sys/fs/cgroup/kubepods/cpu.max': '800000 100000\n' });
  assert.equal(cgroupCpuLimit(pod), 1.5);
  assert.equal(availableCores(16, pod), 2); // 1.5 CPUs on a 16-core node: 2 threads
  assert.equal(availableCores(1, pod), 1); // the affinity mask still caps it
  // In a container with its own cgroup namespace the path is "/" and the limit sits at the mount root.
  assert.equal(availableCores(16, fs({ '/proc/self/cgroup': '0::/\n', '/sys/fs/cgroup/cpu.max': '200000 100000' })), 2);
  assert.equal(availableCores(8, fs({ '/proc/self/cgroup': '0::/\n', '/sys/fs/cgroup/cpu.max': 'max 100000' })), 8);
  assert.equal(availableCores(8, fs({ '/proc/self/cgroup': '0::/user.slice\n' })), 8); // no cpu controller files
  assert.equal(availableCores(4, fs({ '/proc/self/cgroup': '0::/\n', '/sys/fs/cgroup/cpu.max': '50000 100000' })), 1); // half a CPU: one thread
});

test('cgroup v1: cpu.cfs_quota_us / cpu.cfs_period_us, -1 is no limit; no cgroup info at all: the CPU count', () => {
  const docker = fs({ '/proc/self/cgroup': '5:cpuset:/\n4:cpu,cpuacct:/docker/abc\n2:cpuacct:/\n', '/sys/fs/cgroup/cpu,cpuacct/docker/abc/cpu.cfs_quota_us': '300000\n', '/sys/fs/cgroup/cpu,cpuacct/docker/abc/cpu.cfs_period_us': '100000\n' });
  assert.equal(cgroupCpuLimit(docker), 3);
  assert.equal(availableCores(32, docker), 3);
  const none = fs({ '/proc/self/cgroup': '1:cpu:/\n', '/sys/fs/cgroup/cpu/cpu.cfs_quota_us': '-1\n', '/sys/fs/cgroup/cpu/cpu.cfs_period_us': '100000\n' });
  assert.equal(cgroupCpuLimit(none), undefined);
  assert.equal(availableCores(2, none), 2);
  assert.equal(availableCores(6, fs({})), 6);
});

test('--workers auto on this machine is within 1..64 and never above the CPUs it may run on', () => {
  const n = parseWorkers('auto');
  assert.ok(n >= 1 && n <= 64);
  assert.ok(n <= availableCores());
  assert.equal(parseWorkers('3'), 3);
});
