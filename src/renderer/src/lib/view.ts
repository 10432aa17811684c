// Viewer geometry. A view is a scale (screen pixels per photo pixel) and the photo point shown at the
// centre of a pane, so panes of different sizes (side by side) can share one view and stay in sync.
export interface View {
  scale: number;
  cx: number;
  cy: number;
}
export interface Size {
  width: number;
  height: number;
}
export interface Rect {
  x: number;
  y: number;
  width: number;
  height: number;
}

export const MIN_SCALE = 0.02;
export const MAX_SCALE = 16;
const TILE_OUT = 512;

/** The whole photo in the pane, never enlarged: past 100 % every photo looks soft, where sharpness is judged. */
export function fitView(photo: Size, pane: Size): View {
  const scale = Math.min(1, (pane.width * 0.96) / photo.width, (pane.height * 0.96) / photo.height);
  return { scale: clampScale(scale), cx: photo.width / 2, cy: photo.height / 2 };
}

export function clampScale(scale: number): number {
  return Math.min(MAX_SCALE, Math.max(MIN_SCALE, scale));
}

/** Keeps the photo on screen: the centre may not leave the photo. */
export function clampView(view: View, photo: Size): View {
  return {
    scale: clampScale(view.scale),
    cx: Math.min(photo.width, Math.max(0, view.cx)),
    cy: Math.min(photo.height, Math.max(0, view.cy)),
  };
}

/** The photo layer's top-left corner in pane pixels. */
export function layerOrigin(view: View, pane: Size): { x: number; y: number } {
  return { x: pane.width / 2 - view.cx * view.scale, y: pane.height / 2 - view.cy * view.scale };
}

export function paneToPhoto(view: View, pane: Size, px: number, py: number): { x: number; y: number } {
  const origin = layerOrigin(view, pane);
  return { x: (px - origin.x) / view.scale, y: (py - origin.y) / view.scale };
}

/** Zooms to `scale` keeping the photo point under pane point (px, py) where it is. */
export function zoomAround(view: View, pane: Size, scale: number, px: number, py: number): View {
  const next = clampScale(scale);
  const anchor = paneToPhoto(view, pane, px, py);
  return {
    scale: next,
    cx: anchor.x - (px - pane.width / 2) / next,
    cy: anchor.y - (py - pane.height / 2) / next,
  };
}

export function panBy(view: View, dx: number, dy: number): View {
  return { ...view, cx: view.cx - dx / view.scale, cy: view.cy - dy / view.scale };
}

/** The part of the photo visible in the pane, in photo pixels (empty when none). */
export function visibleRect(view: View, pane: Size, photo: Size): Rect {
  const a = paneToPhoto(view, pane, 0, 0);
  const b = paneToPhoto(view, pane, pane.width, pane.height);
  const x = Math.max(0, Math.floor(a.x));
  const y = Math.max(0, Math.floor(a.y));
  return {
    x,
    y,
    width: Math.max(0, Math.min(photo.width, Math.ceil(b.x)) - x),
    height: Math.max(0, Math.min(photo.height, Math.ceil(b.y)) - y),
  };
}

export interface Tile extends Rect {
  key: string;
  outWidth: number;
  outHeight: number;
}

/**
 * Full-resolution tiles covering the visible part of the photo, or none while the preview is sharp
 * enough. Tiles come in power-of-two levels so panning and small zoom steps reuse cached ones.
 */
export function visibleTiles(view: View, pane: Size, photo: Size, previewWidth: number): Tile[] {
  const level = Math.min(1, 2 ** Math.ceil(Math.log2(view.scale)));
  if (level <= (previewWidth / photo.width) * 1.05) return [];
  const side = Math.round(TILE_OUT / level);
  const area = visibleRect(view, pane, photo);
  if (!area.width || !area.height) return [];
  const tiles: Tile[] = [];
  for (let row = Math.floor(area.y / side); row * side < area.y + area.height; row++) {
    for (let col = Math.floor(area.x / side); col * side < area.x + area.width; col++) {
      const x = col * side;
      const y = row * side;
      const width = Math.min(side, photo.width - x);
      const height = Math.min(side, photo.height - y);
      tiles.push({
        key: `${level}:${col}:${row}`,
        x,
        y,
        width,
        height,
        outWidth: Math.max(1, Math.round(width * level)),
        outHeight: Math.max(1, Math.round(height * level)),
      });
    }
  }
  return tiles;
}

/**
 * At most `maxPixels` of `rect` around its centre, at least 16 x 16 (the engine's smallest region) where the
 * photo allows: the part of the view a live preview restores.
 */
export function capRect(rect: Rect, maxPixels: number, photo: Size): Rect {
  const scale = Math.min(1, Math.sqrt(maxPixels / Math.max(1, rect.width * rect.height)));
  const width = Math.min(photo.width, Math.max(16, Math.floor(rect.width * scale)));
  const height = Math.min(photo.height, Math.max(16, Math.floor(rect.height * scale)));
  const start = (from: number, length: number, shown: number, total: number): number =>
    Math.max(0, Math.min(total - length, Math.round(from + (shown - length) / 2)));
  return {
    x: start(rect.x, width, rect.width, photo.width),
    y: start(rect.y, height, rect.height, photo.height),
    width,
    height,
  };
}

/** A rectangle from two corners, clamped to the photo, in whole pixels. */
export function rectBetween(a: { x: number; y: number }, b: { x: number; y: number }, photo: Size): Rect {
  const clampX = (v: number): number => Math.round(Math.min(photo.width, Math.max(0, v)));
  const clampY = (v: number): number => Math.round(Math.min(photo.height, Math.max(0, v)));
  const x = Math.min(clampX(a.x), clampX(b.x));
  const y = Math.min(clampY(a.y), clampY(b.y));
  return { x, y, width: Math.abs(clampX(a.x) - clampX(b.x)), height: Math.abs(clampY(a.y) - clampY(b.y)) };
}
