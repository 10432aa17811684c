// Fast mode's guided estimate (issue 22, item 5b): the learned network restores the estimation window, and
// its result stands in for the sharp photo: the uniform kernel is then measured non-blindly from the pair
// (restoration, blurry window), with pair-kernel.ts's fit in linear light at half size, instead of blindly. The whole photo
// is then deconvolved as after a blind estimate (fast-mode.ts). Measured against the blind estimate:
// docs/decisions/0020-learned-mode.md.
import type { Region } from '../../common/api';
import { crop } from '../core/tiling';
import { edgeMass, psfSpread } from './blind-kernel';
import { blurExtent, type KernelEstimator } from './fast-mode';
import type { NetworkRestore } from './learned-mode';
import { POINT_PX, windowPsf } from './pair-kernel';

/** Share of the estimate's progress the network takes; the fit is quick. */
const NETWORK_SHARE = 0.9;

/**
 * The guided estimator for fast mode (`FastModeOptions.estimator`), with `restore` (the network:
 * `networkRestore`) restoring the window.
 */
export function guidedEstimator(restore: NetworkRestore): KernelEstimator {
  return async (photo, window, ctx, progressEnd) => {
    // The fit measures a square: the largest one centred in the window.
    const side = Math.min(window.width, window.height);
    const square: Region = {
      x: window.x + ((window.width - side) >> 1),
      y: window.y + ((window.height - side) >> 1),
      width: side,
      height: side,
    };
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
