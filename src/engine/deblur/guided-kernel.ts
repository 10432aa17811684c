// Fast mode's guided estimate (issue 22, item 5b): the learned network restores the estimation window, and
// its result stands in for the sharp photo: the uniform kernel is then measured non-blindly from the pair
// (restoration, blurry window), with pair-kernel.ts's fit in linear light at half size, instead of blindly. The whole photo
// is then deconvolved as after a blind estimate (fast-mode.ts). Measured against the blind estimate:
// docs/decisions/0020-learned-mode.md.
import type { Region } from '../../common/api';
import { bendableContext, type JobContext } from '../core/progress';
import { crop } from '../core/tiling';
import { edgeMass, psfSpread } from './blind-kernel';
import { blurExtent, type KernelEstimator } from './fast-mode';
import { learnedTileCount, type NetworkRestore } from './learned-mode';
import { POINT_PX, windowPsf } from './pair-kernel';

/** Share of the estimate's progress the network takes; the fit is quick. */
export const NETWORK_SHARE = 0.9;

/**
 * About what a blind estimate takes on a two-core CPU (6 s of a 24 MP photo's minute; decisions 0006 and
 * 0018): fast mode gives any estimate that share of its progress bar against the restoration's.
 */
export const BLIND_ESTIMATE_SECONDS = 6;

/** The square the fit measures in `window`: the largest one centred in it, which the network restores. */
function squareIn(window: Region): Region {
  const side = Math.min(window.width, window.height);
  return {
    x: window.x + ((window.width - side) >> 1),
    y: window.y + ((window.height - side) >> 1),
    width: side,
    height: side,
  };
}

/**
 * The guided estimator for fast mode (`FastModeOptions.estimator`), with `restore` (the network:
 * `networkRestore`) restoring the window.
 */
export function guidedEstimator(restore: NetworkRestore): KernelEstimator {
  return async (photo, window, ctx, progressEnd) => {
    const square = squareIn(window);
    const side = square.width;
    const blurry = crop(photo, square.x, square.y, side, side);
    const sharp = await restore(blurry, ctx, (done, total) =>
      ctx.progress({
        stage: `estimating the blur: the network, tile ${done} of ${total}`,
        progress: (progressEnd * NETWORK_SHARE * done) / total,
      }),
    );
    ctx.progress({
      stage: "measuring the blur against the network's result",
      progress: progressEnd * NETWORK_SHARE,
    });
    const fit = windowPsf(sharp, blurry, { x: 0, y: 0, width: side, height: side }, true);
    const { psf } = fit;
    return {
      // In the blind estimate's terms: the halves' agreement stands for its two scales' agreement.
      estimate: {
        psf,
        consistency: fit.selfConsistency,
        fill: psfSpread(psf)[1] / psf.size,
        edgeMass: edgeMass(psf, 3),
      },
      // A point is no motion blur, as for the blind estimate.
      reliability: blurExtent(psf) <= POINT_PX ? 'failed' : fit.trust,
    };
  };
}

/**
 * The guided estimator for a job, and the context to run fast mode in. Fast mode gives the estimate the share
 * of its progress bar a blind estimate takes (BLIND_ESTIMATE_SECONDS), but the network takes about
 * `secondsPerTile` a tile (`LearnedNetwork.secondsPerTile`), often longer than restoring the whole photo: the
 * context's bar gives the estimate its expected time instead, so that the ETA, the elapsed time extrapolated
 * from the bar, holds from the first tile on.
 */
export function withGuidedEstimate(
  restore: NetworkRestore,
  secondsPerTile: number,
  ctx: JobContext,
): { estimator: KernelEstimator; ctx: JobContext } {
  const bar = bendableContext(ctx);
  const estimator = guidedEstimator(restore);
  return {
    ctx: bar.ctx,
    estimator: (photo, window, estimateCtx, progressEnd) => {
      const { width } = squareIn(window);
      // The fit included, as its share of the estimate's progress says.
      const estimate = (learnedTileCount(width, width) * secondsPerTile) / NETWORK_SHARE;
      const restoration = (BLIND_ESTIMATE_SECONDS * (1 - progressEnd)) / progressEnd;
      bar.bend(progressEnd, estimate / (estimate + restoration));
      return estimator(photo, window, estimateCtx, progressEnd);
    },
  };
}
