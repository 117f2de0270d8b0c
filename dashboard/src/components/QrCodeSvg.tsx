import { useEffect, useState } from 'react';

const QUIET_ZONE = 4;

/** The SVG path of a QR code's dark modules, one unit square each, offset by the quiet zone. */
async function qrPath(text: string): Promise<{ size: number; path: string }> {
  // Loaded when a QR is first shown, not with the dashboard's first page.
  const { create } = await import('qrcode');
  const { modules } = create(text, { errorCorrectionLevel: 'M' });
  let path = '';
  for (let row = 0; row < modules.size; row++) {
    for (let col = 0; col < modules.size; col++) {
      if (modules.data[row * modules.size + col]) path += `M${col + QUIET_ZONE} ${row + QUIET_ZONE}h1v1h-1z`;
    }
  }
  return { size: modules.size + 2 * QUIET_ZONE, path };
}

/** A QR code drawn as SVG (crisp at any size, no canvas, no image from the server). */
export function QrCodeSvg({ value, label, size = 232 }: { value: string; label: string; size?: number }) {
  const [drawn, setDrawn] = useState<{ value: string; size: number; path: string } | null>(null);
  useEffect(() => {
    let current = true;
    void qrPath(value).then((qr) => current && setDrawn({ value, ...qr }));
    return () => {
      current = false;
    };
  }, [value]);
  return (
    <svg
      role="img"
      aria-label={label}
      width={size}
      height={size}
      viewBox={`0 0 ${drawn?.size ?? 1} ${drawn?.size ?? 1}`}
      shapeRendering="crispEdges"
      data-testid="qr-code"
      data-value={drawn?.value ?? ''}
    >
      <rect width="100%" height="100%" fill="#fff" />
      {drawn && <path d={drawn.path} fill="#000" />}
    </svg>
  );
}
