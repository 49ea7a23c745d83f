extension Kernels {
    /// The ring that edge-replicating padding adds around x: (N, C, H + 2·p.h, W + 2·p.w)
    /// holding, at every position outside the image, the nearest image pixel (numpy's
    /// "edge" mode), and zeros inside. x: (N, C, H, W), H, W ≥ 1.
    public static func edgePaddingRing(_ x: Tensor, padding p: Pair2) -> Tensor {
        let (n, c, h, w) = (x.shape[0], x.shape[1], x.shape[2], x.shape[3])
        let (hp, wp) = (h + 2 * p.h, w + 2 * p.w)
        let out = Tensor(zeros: [n, c, hp, wp])
        guard h > 0, w > 0 else { return out }
        let src = x.data, dst = out.data
        for plane in 0..<(n * c) {
            let s = src + plane * h * w, d = dst + plane * hp * wp
            for i in 0..<hp {
                let si = min(max(i - p.h, 0), h - 1)
                let inside = i >= p.h && i < p.h + h
                for j in 0..<wp where !(inside && j >= p.w && j < p.w + w) {
                    d[i * wp + j] = s[si * w + min(max(j - p.w, 0), w - 1)]
                }
            }
        }
        return out
    }
}
