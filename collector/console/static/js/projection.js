// The map's projection: equirectangular, longitude scaled by cos(mid-latitude), fitted into the canvas.
export const W = 900;
export const H = 600;
const PAD = 30;

/** A function (lon, lat) → [x, y] in canvas pixels for a bounding box [minLon, minLat, maxLon, maxLat]. */
export function projection(b) {
  const [x0, y0, x1, y1] = b;
  const k = Math.cos(((y0 + y1) / 2) * (Math.PI / 180));
  const spanX = Math.max((x1 - x0) * k, 0.01);
  const spanY = Math.max(y1 - y0, 0.01);
  const s = Math.min((W - 2 * PAD) / spanX, (H - 2 * PAD) / spanY);
  const ox = (W - spanX * s) / 2;
  const oy = (H - spanY * s) / 2;
  return (lon, lat) => [ox + (lon - x0) * k * s, H - oy - (lat - y0) * s];
}
