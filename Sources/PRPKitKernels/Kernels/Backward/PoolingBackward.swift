extension Kernels {
    /// Routes each output gradient to its window's argmax (PyTorch's max_pool2d backward).
    /// g (B, C, Ho, Wo); `indices` from the forward (flat into H·W, one plane per (n, c)
    /// of the forward batch N); signal row r uses forward example r / (B / N).
    public static func maxPool2dInputGradient(_ g: Tensor, indices: UnsafePointer<Int32>,
                                              forwardBatch n: Int, inputSize: Pair2) -> Tensor {
        let (b, c, ho, wo) = (g.shape[0], g.shape[1], g.shape[2], g.shape[3])
        let hw = inputSize.h * inputSize.w
        let out = Tensor(zeros: [b, c, inputSize.h, inputSize.w])
        let gp = g.data, op = out.data
        let perExample = b / n
        Parallel.forRanges(b * c) { planes in
            for plane in planes {
                let r = plane / c, ch = plane % c
                let idx = indices + ((r / perExample) * c + ch) * ho * wo
                let src = gp + plane * ho * wo, dst = op + plane * hw
                for i in 0..<(ho * wo) { dst[Int(idx[i])] += src[i] }
            }
        }
        return out
    }

    /// avg_pool2d backward: each output gradient spread over its window / divisor.
    public static func avgPool2dInputGradient(_ g: Tensor, _ a: AvgPool2dAttributes, inputSize: Pair2) -> Tensor {
        let (b, c, ho, wo) = (g.shape[0], g.shape[1], g.shape[2], g.shape[3])
        let (h, w) = (inputSize.h, inputSize.w)
        let out = Tensor(zeros: [b, c, h, w])
        let gp = g.data, op = out.data
        Parallel.forRanges(b * c) { planes in
            for plane in planes {
                let src = gp + plane * ho * wo, dst = op + plane * h * w
                for oy in 0..<ho {
                    for ox in 0..<wo {
                        let win = avgPoolWindow(oy, ox, a, height: h, width: w)
                        if win.rows.isEmpty || win.cols.isEmpty { continue }
                        let v = src[oy * wo + ox] / Float(win.divisor)
                        for iy in win.rows { for ix in win.cols { dst[iy * w + ix] += v } }
                    }
                }
            }
        }
        return out
    }

    /// adaptive_avg_pool2d backward.
    public static func adaptiveAvgPool2dInputGradient(_ g: Tensor, inputSize: Pair2) -> Tensor {
        let (b, c, oh, ow) = (g.shape[0], g.shape[1], g.shape[2], g.shape[3])
        let (h, w) = (inputSize.h, inputSize.w)
        let out = Tensor(zeros: [b, c, h, w])
        let gp = g.data, op = out.data
        Parallel.forRanges(b * c) { planes in
            for plane in planes {
                let src = gp + plane * oh * ow, dst = op + plane * h * w
                for oy in 0..<oh {
                    let ys = adaptiveWindow(oy, input: h, output: oh)
                    for ox in 0..<ow {
                        let xs = adaptiveWindow(ox, input: w, output: ow)
                        let v = src[oy * ow + ox] / Float(ys.count * xs.count)
                        for iy in ys { for ix in xs { dst[iy * w + ix] += v } }
                    }
                }
            }
        }
        return out
    }
}
