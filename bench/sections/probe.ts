import type { Ctx } from '../context.js';
export async function benchProbe(ctx: Ctx): Promise<void> {
  ctx.skip('probe section', 'not written yet');
}
