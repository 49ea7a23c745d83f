extension Kernels {
    /// PyTorch's max_pool2d: x (N, C, H, W) → (N, C, Ho, Wo). Windows are scanned row by
    /// row and the first maximum wins ties (a NaN always wins), as PyTorch's CPU kernel.
    /// `indices`, when given, receives each output's argmax as a flat index into H·W.
    public static func maxPool2d(_ x: Tensor, _ a: MaxPool2dAttributes,
                                 indices: UnsafeMutablePointer<Int32>? = nil) -> Tensor {
        let (n, c, h, w) = (x.shape[0], x.shape[1], x.shape[2], x.shape[3])
        let ho = ShapeInference.pooledExtent(h, kernel: a.kernel.h, stride: a.stride.h, padding: a.padding.h, dilation: a.dilation.h, ceilMode: a.ceilMode)
        let wo = ShapeInference.pooledExtent(w, kernel: a.kernel.w, stride: a.stride.w, padding: a.padding.w, dilation: a.dilation.w, ceilMode: a.ceilMode)
        let out = Tensor(uninitialized: [n, c, ho, wo])
        let xp = x.data, op = out.data
        Parallel.forRanges(n * c) { planes in
            for plane in planes {
                let src = xp + plane * h * w, dst = op + plane * ho * wo
                for oy in 0..<ho {
                    var y0 = oy * a.stride.h - a.padding.h
                    let y1 = min(y0 + (a.kernel.h - 1) * a.dilation.h + 1, h)
                    while y0 < 0 { y0 += a.dilation.h }
                    for ox in 0..<wo {
                        var x0 = ox * a.stride.w - a.padding.w
                        let x1 = min(x0 + (a.kernel.w - 1) * a.dilation.w + 1, w)
                        while x0 < 0 { x0 += a.dilation.w }
                        var best = -Float.infinity
                        var bestIndex = y0 * w + x0
                        var iy = y0
                        while iy < y1 {
                            var ix = x0
                            while ix < x1 {
                                let v = src[iy * w + ix]
                                if v > best || v.isNaN { best = v; bestIndex = iy * w + ix }
                                ix += a.dilation.w
                            }
                            iy += a.dilation.h
                        }
                        dst[oy * wo + ox] = best
                        indices?[plane * ho * wo + oy * wo + ox] = Int32(bestIndex)
                    }
                }
            }
        }
        return out
    }

    /// PyTorch's avg_pool2d (count_include_pad, ceil_mode, divisor_override honoured).
    public static func avgPool2d(_ x: Tensor, _ a: AvgPool2dAttributes) -> Tensor {
        let (n, c, h, w) = (x.shape[0], x.shape[1], x.shape[2], x.shape[3])
        let ho = ShapeInference.pooledExtent(h, kernel: a.kernel.h, stride: a.stride.h, padding: a.padding.h, dilation: 1, ceilMode: a.ceilMode)
        let wo = ShapeInference.pooledExtent(w, kernel: a.kernel.w, stride: a.stride.w, padding: a.padding.w, dilation: 1, ceilMode: a.ceilMode)
        let out = Tensor(zeros: [n, c, ho, wo])
        let xp = x.data, op = out.data
        Parallel.forRanges(n * c) { planes in
            for plane in planes {
                let src = xp + plane * h * w, dst = op + plane * ho * wo
                for oy in 0..<ho {
                    for ox in 0..<wo {
                        let win = avgPoolWindow(oy, ox, a, height: h, width: w)
                        if win.rows.isEmpty || win.cols.isEmpty { dst[oy * wo + ox] = 0; continue }
                        var sum: Float = 0
                        for iy in win.rows { for ix in win.cols { sum += src[iy * w + ix] } }
                        dst[oy * wo + ox] = sum / Float(win.divisor)
                    }
                }
            }
        }
        return out
    }

    /// PyTorch's avg_pool2d window of output (oy, ox): the input rows and columns it
    /// covers (clipped to the input) and the divisor of its sum (divisor_override, else the
    /// window size with or without the padding, per count_include_pad).
    @inlinable
    static func avgPoolWindow(_ oy: Int, _ ox: Int, _ a: AvgPool2dAttributes, height h: Int, width w: Int)
        -> (rows: Range<Int>, cols: Range<Int>, divisor: Int) {
        let y0 = oy * a.stride.h - a.padding.h, y1 = min(y0 + a.kernel.h, h + a.padding.h)
        let x0 = ox * a.stride.w - a.padding.w, x1 = min(x0 + a.kernel.w, w + a.padding.w)
        let rows = max(y0, 0)..<max(min(y1, h), max(y0, 0)), cols = max(x0, 0)..<max(min(x1, w), max(x0, 0))
        let divisor = a.divisorOverride ?? (a.countIncludePad ? (y1 - y0) * (x1 - x0) : rows.count * cols.count)
        return (rows, cols, divisor)
    }

    /// PyTorch's adaptive window of output index `i`: [⌊i·n/m⌋, ⌈(i+1)·n/m⌉).
    @inlinable
    public static func adaptiveWindow(_ i: Int, input n: Int, output m: Int) -> Range<Int> {
        (i * n) / m ..< ((i + 1) * n + m - 1) / m
    }

    /// PyTorch's adaptive_avg_pool2d: x (N, C, H, W) → (N, C, outH, outW).
    public static func adaptiveAvgPool2d(_ x: Tensor, output o: Pair2) -> Tensor {
        let (n, c, h, w) = (x.shape[0], x.shape[1], x.shape[2], x.shape[3])
        let out = Tensor(zeros: [n, c, o.h, o.w])
        let xp = x.data, op = out.data
        Parallel.forRanges(n * c) { planes in
            for plane in planes {
                let src = xp + plane * h * w, dst = op + plane * o.h * o.w
                for oy in 0..<o.h {
                    let ys = adaptiveWindow(oy, input: h, output: o.h)
                    for ox in 0..<o.w {
                        let xs = adaptiveWindow(ox, input: w, output: o.w)
                        var sum: Float = 0
                        for iy in ys { for ix in xs { sum += src[iy * w + ix] } }
                        dst[oy * o.w + ox] = sum / Float(ys.count * xs.count)
                    }
                }
            }
        }
        return out
    }

    /// Minimum (or maximum) over H and W: (N, C, H, W) → (N, C). NaN propagates.
    public static func spatialExtremum(_ x: Tensor, maximum: Bool) -> Tensor {
        let (n, c, hw) = (x.shape[0], x.shape[1], x.shape[2] * x.shape[3])
        let out = Tensor(zeros: [n, c])
        let xp = x.data, op = out.data
        Parallel.forRanges(n * c, minChunk: 64) { planes in
            for plane in planes {
                let src = xp + plane * hw
                var best = src[0]
                for i in 1..<max(hw, 1) {
                    let v = src[i]
                    if v.isNaN || (maximum ? v > best : v < best) { best = v }
                    if best.isNaN { break }
                }
                op[plane] = best
            }
        }
        return out
    }
}
