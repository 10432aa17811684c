import type { Rng } from '../core/rng';

/** Camera pose relative to the reference (mid-exposure) pose: small rotations (radians) and a shift (pixels). */
export interface Pose {
  yaw: number;
  pitch: number;
  roll: number;
  tx: number;
  ty: number;
}

/** Pinhole geometry of the (scaled) photo the crop comes from, in the coordinates the warp samples in. */
export interface Camera {
  /** Focal length in pixels. */
  focal: number;
  /** Principal point (the photo's centre). */
  cx: number;
  cy: number;
  /** Half the photo's diagonal: the distance at which a roll is converted from pixels to radians. */
  radius: number;
}

export interface Trajectory {
  poses: Pose[];
  /** Longest blur trail over the probe points, in pixels. */
  blurPx: number;
  /** Largest distance a probe point moves from its reference position: the margin the warp needs. */
  maxShiftPx: number;
}

type Point = readonly [number, number];
type Matrix = readonly [number, number, number, number, number, number, number, number, number];

/** Random-walk control points with momentum, so paths drift, curve and sometimes turn back like real shake. */
function walk(rng: Rng, count: number, dims: number): number[][] {
  const inertia = rng.uniform(0.3, 0.9);
  const pos = new Array<number>(dims).fill(0);
  const vel = Array.from({ length: dims }, () => rng.normal());
  const out = [pos.slice()];
  for (let i = 1; i < count; i++) {
    for (let d = 0; d < dims; d++) {
      vel[d] = inertia * vel[d] + rng.normal();
      pos[d] += vel[d];
    }
    out.push(pos.slice());
  }
  return out;
}

/** Catmull-Rom spline through the control points at time t in [0, 1]. */
function spline(points: number[][], t: number): number[] {
  const n = points.length - 1;
  const f = Math.min(n, Math.max(0, t * n));
  const i = Math.min(n - 1, Math.floor(f));
  const u = f - i;
  const p0 = points[Math.max(0, i - 1)];
  const p1 = points[i];
  const p2 = points[i + 1];
  const p3 = points[Math.min(n, i + 2)];
  return p1.map((_, d) => {
    const a = -0.5 * p0[d] + 1.5 * p1[d] - 1.5 * p2[d] + 0.5 * p3[d];
    const b = p0[d] - 2.5 * p1[d] + 2 * p2[d] - 0.5 * p3[d];
    const c = -0.5 * p0[d] + 0.5 * p2[d];
    return ((a * u + b) * u + c) * u + p1[d];
  });
}

/** R = Rz(roll) Ry(yaw) Rx(pitch), row-major. */
function rotation(p: Pose): Matrix {
  const [ca, sa] = [Math.cos(p.pitch), Math.sin(p.pitch)];
  const [cb, sb] = [Math.cos(p.yaw), Math.sin(p.yaw)];
  const [cg, sg] = [Math.cos(p.roll), Math.sin(p.roll)];
  return [
    cg * cb, cg * sb * sa - sg * ca, cg * sb * ca + sg * sa,
    sg * cb, sg * sb * sa + cg * ca, sg * sb * ca - cg * sa,
    -sb, cb * sa, cb * ca,
  ]; // prettier-ignore
}

/** Where the camera at pose p sees what the reference camera sees at point q (a homography plus shift). */
export function mapPoint(camera: Camera, p: Pose, q: Point): [number, number] {
  const r = rotation(p);
  const x = q[0] - camera.cx;
  const y = q[1] - camera.cy;
  const f = camera.focal;
  const X = r[0] * x + r[1] * y + r[2] * f;
  const Y = r[3] * x + r[4] * y + r[5] * f;
  const Z = r[6] * x + r[7] * y + r[8] * f;
  return [camera.cx + (f * X) / Z + p.tx, camera.cy + (f * Y) / Z + p.ty];
}

function measure(
  camera: Camera,
  poses: Pose[],
  probes: readonly Point[],
): { blurPx: number; maxShiftPx: number } {
  let blurPx = 0;
  let maxShiftPx = 0;
  for (const q of probes) {
    const pts = poses.map((p) => mapPoint(camera, p, q));
    for (let i = 0; i < pts.length; i++) {
      maxShiftPx = Math.max(maxShiftPx, Math.hypot(pts[i][0] - q[0], pts[i][1] - q[1]));
      for (let j = i + 1; j < pts.length; j++) {
        blurPx = Math.max(blurPx, Math.hypot(pts[i][0] - pts[j][0], pts[i][1] - pts[j][1]));
      }
    }
  }
  return { blurPx, maxShiftPx };
}

/**
 * A smooth random camera path over the exposure whose longest blur trail at the probe points (e.g. the crop's
 * corners and centre) is `blurPx`. Yaw and pitch dominate (near-translations, stronger towards the edges of
 * a wide lens); in-plane roll and a camera shift add blur that varies across the frame.
 * The reference pose, at which the sharp image is seen, is the middle of the exposure.
 */
export function sampleTrajectory(
  rng: Rng,
  camera: Camera,
  probes: readonly Point[],
  blurPx: number,
): Trajectory {
  const controls = walk(rng, rng.int(4, 8), 5);
  const weights = [1, 1, rng.uniform(0, 0.6), rng.uniform(0, 0.4), rng.uniform(0, 0.4)];
  const count = Math.min(48, Math.max(16, Math.ceil(blurPx / 1.25)));
  const mid = spline(controls, 0.5);
  const path = Array.from({ length: count }, (_, m) =>
    spline(controls, count === 1 ? 0.5 : m / (count - 1)).map((v, d) => (v - mid[d]) * weights[d]),
  );
  const posesAt = (amplitude: number): Pose[] =>
    path.map((v) => ({
      yaw: (amplitude * v[0]) / camera.focal,
      pitch: (amplitude * v[1]) / camera.focal,
      roll: (amplitude * v[2]) / camera.radius,
      tx: amplitude * v[3],
      ty: amplitude * v[4],
    }));
  if (!(blurPx > 0)) return { poses: posesAt(0), blurPx: 0, maxShiftPx: 0 };
  // Displacements are nearly linear in the amplitude: two secant steps land within a fraction of a pixel.
  let amplitude = 1;
  for (let step = 0; step < 2; step++) {
    const extent = measure(camera, posesAt(amplitude), probes).blurPx;
    if (extent === 0) break;
    amplitude *= blurPx / extent;
  }
  const poses = posesAt(amplitude);
  return { poses, ...measure(camera, poses, probes) };
}

/**
 * Average of the image seen at every pose (bilinear sampling, edges replicated), for the size x size output
 * whose top-left sits at (ox, oy) in the source. src is interleaved RGB, linear light.
 */
export function renderShake(
  src: Float32Array,
  srcWidth: number,
  srcHeight: number,
  camera: Camera,
  poses: readonly Pose[],
  ox: number,
  oy: number,
  width: number,
  height: number,
): Float32Array {
  const out = new Float32Array(width * height * 3);
  const f = camera.focal;
  const maxX = srcWidth - 1;
  const maxY = srcHeight - 1;
  for (const pose of poses) {
    const r = rotation(pose);
    for (let v = 0; v < height; v++) {
      const x = ox - camera.cx;
      const y = oy + v - camera.cy;
      let X = r[0] * x + r[1] * y + r[2] * f;
      let Y = r[3] * x + r[4] * y + r[5] * f;
      let Z = r[6] * x + r[7] * y + r[8] * f;
      let o = v * width * 3;
      for (let u = 0; u < width; u++, X += r[0], Y += r[3], Z += r[6], o += 3) {
        let sx = camera.cx + (f * X) / Z + pose.tx;
        let sy = camera.cy + (f * Y) / Z + pose.ty;
        sx = sx < 0 ? 0 : sx > maxX ? maxX : sx;
        sy = sy < 0 ? 0 : sy > maxY ? maxY : sy;
        const x0 = Math.min(sx | 0, maxX - 1 < 0 ? 0 : maxX - 1);
        const y0 = Math.min(sy | 0, maxY - 1 < 0 ? 0 : maxY - 1);
        const ax = sx - x0;
        const ay = sy - y0;
        const i00 = (y0 * srcWidth + x0) * 3;
        const i10 = i00 + (x0 < maxX ? 3 : 0);
        const i01 = i00 + (y0 < maxY ? srcWidth * 3 : 0);
        const i11 = i01 + (i10 - i00);
        const w00 = (1 - ax) * (1 - ay);
        const w10 = ax * (1 - ay);
        const w01 = (1 - ax) * ay;
        const w11 = ax * ay;
        out[o] += w00 * src[i00] + w10 * src[i10] + w01 * src[i01] + w11 * src[i11];
        out[o + 1] += w00 * src[i00 + 1] + w10 * src[i10 + 1] + w01 * src[i01 + 1] + w11 * src[i11 + 1];
        out[o + 2] += w00 * src[i00 + 2] + w10 * src[i10 + 2] + w01 * src[i01 + 2] + w11 * src[i11 + 2];
      }
    }
  }
  const inv = 1 / poses.length;
  for (let i = 0; i < out.length; i++) out[i] *= inv;
  return out;
}
