import * as tf from '@tensorflow/tfjs';
import type { JobResult, JobSpec } from '../../common/api';
import { checkpoint, type JobContext } from '../core/progress';

const CHANNELS = 32;

/** Times a 3x3 convolution, the operation F and G spend most of their time in. */
export async function runSpeedTest(
  spec: Extract<JobSpec, { kind: 'speedTest' }>,
  ctx: JobContext,
): Promise<JobResult> {
  const input = tf.randomNormal<tf.Rank.R4>([1, spec.size, spec.size, CHANNELS], 0, 1, 'float32', 1);
  const filter = tf.randomNormal<tf.Rank.R4>([3, 3, CHANNELS, CHANNELS], 0, 0.1, 'float32', 2);
  try {
    const started = performance.now();
    for (let i = 0; i < spec.iterations; i++) {
      tf.tidy(() => tf.conv2d(input, filter, 1, 'same').dataSync());
      ctx.progress({ stage: 'convolving', progress: (i + 1) / spec.iterations });
      await checkpoint(ctx.signal);
    }
    const ms = (performance.now() - started) / spec.iterations;
    const flops = 2 * spec.size * spec.size * CHANNELS * CHANNELS * 9;
    return { kind: 'speedTest', gflops: flops / (ms * 1e6), ms };
  } finally {
    input.dispose();
    filter.dispose();
  }
}
