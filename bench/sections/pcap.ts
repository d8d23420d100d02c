import type { Ctx } from '../context.js';
export async function benchPcap(ctx: Ctx): Promise<void> {
  ctx.skip('pcap section', 'not written yet');
}
