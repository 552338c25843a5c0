/**
 * Minimal scanline rasteriser for the synthetic scenes. Shapes are flat point lists `[x0, y0, x1, y1, ...]` in pixel
 * units (pixel (i, j) covers [i, i+1) x [j, j+1)); filling hands each covered run of pixel centres to a callback,
 * so callers shade per pixel without allocating.
 */

/** Receives one horizontal run of covered pixels: row `y`, columns `x0` (inclusive) to `x1` (exclusive). */
export type SpanFn = (y: number, x0: number, x1: number) => void;

/** A polygon as a flat list of vertex coordinates `[x0, y0, x1, y1, ...]`. */
export type Poly = number[];

let crossings = new Float64Array(64);

/** Fills a polygon (even-odd rule, any winding, may be concave) clipped to a `width` x `height` raster. */
export function fillPolygon(pts: readonly number[], width: number, height: number, span: SpanFn): void {
  const n = pts.length >> 1;
  if (n < 3) return;
  let minY = Number.POSITIVE_INFINITY;
  let maxY = Number.NEGATIVE_INFINITY;
  for (let i = 1; i < pts.length; i += 2) {
    const y = pts[i] as number;
    if (y < minY) minY = y;
    if (y > maxY) maxY = y;
  }
  const y0 = Math.max(0, Math.ceil(minY - 0.5));
  const y1 = Math.min(height - 1, Math.floor(maxY - 0.5));
  if (crossings.length < n) crossings = new Float64Array(n * 2);
  const xs = crossings;
  for (let y = y0; y <= y1; y++) {
    const yc = y + 0.5;
    let count = 0;
    let jx = pts[2 * n - 2] as number;
    let jy = pts[2 * n - 1] as number;
    for (let i = 0; i < n; i++) {
      const ix = pts[2 * i] as number;
      const iy = pts[2 * i + 1] as number;
      if (iy > yc !== jy > yc) {
        const x = ix + ((yc - iy) * (jx - ix)) / (jy - iy);
        // Insertion sort: a scanline crosses only a handful of edges.
        let k = count++;
        while (k > 0 && (xs[k - 1] as number) > x) {
          xs[k] = xs[k - 1] as number;
          k--;
        }
        xs[k] = x;
      }
      jx = ix;
      jy = iy;
    }
    for (let k = 0; k + 1 < count; k += 2) {
      const a = Math.max(0, Math.ceil((xs[k] as number) - 0.5));
      const b = Math.min(width, Math.ceil((xs[k + 1] as number) - 0.5));
      if (b > a) span(y, a, b);
    }
  }
}

/** Fills an axis-aligned ellipse with semi-axes `rx`, `ry`. */
export function fillEllipse(
  cx: number,
  cy: number,
  rx: number,
  ry: number,
  width: number,
  height: number,
  span: SpanFn,
): void {
  if (rx <= 0 || ry <= 0) return;
  const y0 = Math.max(0, Math.ceil(cy - ry - 0.5));
  const y1 = Math.min(height - 1, Math.floor(cy + ry - 0.5));
  for (let y = y0; y <= y1; y++) {
    const t = (y + 0.5 - cy) / ry;
    const q = 1 - t * t;
    if (q <= 0) continue;
    const hw = rx * Math.sqrt(q);
    const a = Math.max(0, Math.ceil(cx - hw - 0.5));
    const b = Math.min(width, Math.ceil(cx + hw - 0.5));
    if (b > a) span(y, a, b);
  }
}

/**
 * Corners of a rectangle centred at (cx, cy) with half-extents `hl` along the unit axis (c, s) and `hw` across it.
 */
export function rectPoly(cx: number, cy: number, hl: number, hw: number, c: number, s: number): Poly {
  const ux = c * hl;
  const uy = s * hl;
  const vx = -s * hw;
  const vy = c * hw;
  return [
    cx - ux - vx,
    cy - uy - vy,
    cx + ux - vx,
    cy + uy - vy,
    cx + ux + vx,
    cy + uy + vy,
    cx - ux + vx,
    cy - uy + vy,
  ];
}

/** The quadrilateral covering a straight segment thickened to `halfWidth` on each side (square ends). */
export function segmentPoly(ax: number, ay: number, bx: number, by: number, halfWidth: number): Poly {
  const dx = bx - ax;
  const dy = by - ay;
  const len = Math.sqrt(dx * dx + dy * dy) || 1;
  const nx = (-dy / len) * halfWidth;
  const ny = (dx / len) * halfWidth;
  return [ax + nx, ay + ny, bx + nx, by + ny, bx - nx, by - ny, ax - nx, ay - ny];
}

/** Translates a polygon by (dx, dy). */
export function translatePoly(pts: readonly number[], dx: number, dy: number): Poly {
  const out = pts.slice();
  for (let i = 0; i < out.length; i += 2) {
    out[i] = (out[i] as number) + dx;
    out[i + 1] = (out[i + 1] as number) + dy;
  }
  return out;
}

/** Convex hull (Andrew's monotone chain) of a point list; collinear points are dropped. */
export function convexHull(pts: readonly number[]): Poly {
  const n = pts.length >> 1;
  const idx = Array.from({ length: n }, (_, i) => i);
  idx.sort(
    (a, b) =>
      (pts[2 * a] as number) - (pts[2 * b] as number) || (pts[2 * a + 1] as number) - (pts[2 * b + 1] as number),
  );
  const cross = (o: number, a: number, b: number) =>
    ((pts[2 * a] as number) - (pts[2 * o] as number)) * ((pts[2 * b + 1] as number) - (pts[2 * o + 1] as number)) -
    ((pts[2 * a + 1] as number) - (pts[2 * o + 1] as number)) * ((pts[2 * b] as number) - (pts[2 * o] as number));
  const hull: number[] = [];
  for (const pass of [idx, idx.slice().reverse()]) {
    const start = hull.length;
    for (const p of pass) {
      while (
        hull.length - start >= 2 &&
        cross(hull[hull.length - 2] as number, hull[hull.length - 1] as number, p) <= 0
      )
        hull.pop();
      hull.push(p);
    }
    hull.pop();
  }
  const out: Poly = [];
  for (const p of hull) out.push(pts[2 * p] as number, pts[2 * p + 1] as number);
  return out;
}

/**
 * In-place separable [1, 2, 1] / 4 blur of an interleaved `channels`-channel float raster, with clamped borders.
 * Cheap anti-aliasing for hard-edged polygons and soft penumbrae for shadow masks.
 */
export function blur121(data: Float32Array, width: number, height: number, channels: number): void {
  const rowLen = width * channels;
  const line = new Float32Array(Math.max(width, height) * channels);
  for (let y = 0; y < height; y++) {
    const base = y * rowLen;
    line.set(data.subarray(base, base + rowLen));
    for (let x = 0; x < width; x++) {
      const l = (x > 0 ? x - 1 : 0) * channels;
      const r = (x < width - 1 ? x + 1 : x) * channels;
      const m = x * channels;
      for (let c = 0; c < channels; c++) {
        data[base + m + c] = 0.25 * ((line[l + c] as number) + 2 * (line[m + c] as number) + (line[r + c] as number));
      }
    }
  }
  for (let x = 0; x < width; x++) {
    for (let y = 0; y < height; y++) {
      const o = (y * width + x) * channels;
      for (let c = 0; c < channels; c++) line[y * channels + c] = data[o + c] as number;
    }
    for (let y = 0; y < height; y++) {
      const u = (y > 0 ? y - 1 : 0) * channels;
      const d = (y < height - 1 ? y + 1 : y) * channels;
      const m = y * channels;
      const o = (y * width + x) * channels;
      for (let c = 0; c < channels; c++) {
        data[o + c] = 0.25 * ((line[u + c] as number) + 2 * (line[m + c] as number) + (line[d + c] as number));
      }
    }
  }
}
