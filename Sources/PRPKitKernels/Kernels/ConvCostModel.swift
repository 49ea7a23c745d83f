#if canImport(Glibc)
import Glibc
#endif

/// Chooses between the direct (implicit-GEMM) convolution and the Winograd variants for a
/// stride-1 3×3 convolution, from an estimate of each one's time.
///
/// The estimate is in nanoseconds of one core and counts what dominates each algorithm:
/// - the packed GEMM: fused multiply-adds over whole register tiles (the tile's waste on
///   edge strips and slivers included; 16-column edge slices run slower than full tiles);
/// - direct: 9·Cin·Ho·Wo im2col values gathered;
/// - Winograd F(m×m, 3×3): the input transform per 16-tile group, input channel and
///   transformed position (plus a copy per run of adjacent tiles and patch row), the
///   output transform likewise per output channel, and streaming the α²/9 times larger
///   transformed weights from memory when they exceed the cache.
/// Costs are per image (batch 1), so the choice never depends on the batch size and a
/// result is the same computed alone or in a batch. The constants were measured on this
/// project's benchmark machine (`prpkit-bench winograd`, one thread, CPU time); they only
/// need to rank the algorithms right, not to predict times.
///
/// Accuracy: every variant's error against float64 is bounded by tests (WinogradTests);
/// no variant is chosen automatically for now (see `admissible`).
package enum ConvCostModel {
    /// Nanoseconds per fused multiply-add on full register tiles, and on 16-column slices.
    static package let nsPerFMA = 0.018
    static package let nsPerNarrowFMA = 0.045
    /// Nanoseconds per im2col value gathered by the direct convolution.
    static package let nsPerIm2col = 0.2
    /// Winograd input transform: per (16-tile lane, input channel, position), and per copy
    /// of a run of adjacent tiles (two per patch row); storing tiles as rows scatters.
    static package let nsPerInputElement = 1.0
    static package let nsPerInputRunCopy = 5.0
    static package let nsPerRowScatter = 0.05
    /// Winograd output transform: per (16-tile lane, output channel, position), per copy of
    /// a run's output row; with tiles as rows, per output value stored.
    static package let nsPerOutputElement = 0.6
    static package let nsPerOutputRunCopy = 3.0
    static package let nsPerOutputStore = 0.5
    /// Nanoseconds per byte of transformed weights streamed from beyond the cache.
    static package let nsPerStreamedByte = 0.08
    static package let cacheBytes = 1 << 20
    /// F(2×2) is preferred over F(4×4) unless F(4×4) is estimated this much faster.
    static package let f2Preference = 0.1
    /// Winograd must beat direct by this factor (keeps the more exact direct kernel where
    /// the gain would be within the model's own error).
    static package let margin = 0.85

    /// FMAs of an (m × n × k) packed GEMM as computed, full and narrow: n in nr-wide
    /// strips, the last one in 16-column slices when it holds at most 32 columns.
    static package func gemmCost(rows m: Int, columns n: Int, depth k: Int, kernels ks: GEMMKernelSet) -> Double {
        let mPad = (m + ks.mr - 1) / ks.mr * ks.mr, nr = ks.nr, rem = n % nr
        let narrow = nr > 16 && rem > 0 && rem <= 32 ? (rem + 15) / 16 * 16 : 0
        let full = n - rem + (rem > 0 && narrow == 0 ? nr : 0)
        return Double(mPad * k) * (Double(full) * nsPerFMA + Double(narrow) * nsPerNarrowFMA)
    }

    /// Estimated one-core nanoseconds of the direct convolution, per image.
    static package func directCost(ho: Int, wo: Int, cin: Int, cout: Int, kernels ks: GEMMKernelSet) -> Double {
        let p = ho * wo, k = 9 * cin
        let gemm = Kernels.conv2dTransposed(p: p, cog: cout, kernels: ks)
            ? gemmCost(rows: p, columns: cout, depth: k, kernels: ks)
            : gemmCost(rows: cout, columns: p, depth: k, kernels: ks)
        return gemm + Double(k * p) * nsPerIm2col
    }

    /// Estimated one-core nanoseconds of Winograd F(m×m, 3×3), per image.
    static package func winogradCost(m: Int, tilesAsRows: Bool, ho: Int, wo: Int, cin: Int, cout: Int,
                             kernels ks: GEMMKernelSet) -> Double {
        let alpha = m + 2, a2 = Double(alpha * alpha)
        let tileCols = (wo + m - 1) / m, tiles = ((ho + m - 1) / m) * tileCols
        let groups = (tiles + 15) / 16, lanes = Double(groups * 16)
        // Runs of adjacent tiles per group: one per tile row it touches.
        let runs = Double(groups + (tiles - 1) / tileCols)
        let gemm = a2 * (tilesAsRows ? gemmCost(rows: tiles, columns: cout, depth: cin, kernels: ks)
                                     : gemmCost(rows: cout, columns: tiles, depth: cin, kernels: ks))
        var input = Double(cin) * (lanes * a2 * nsPerInputElement + runs * Double(2 * alpha) * nsPerInputRunCopy)
        let output: Double
        if tilesAsRows {
            input += Double(cin * tiles) * a2 * nsPerRowScatter
            // Lanes over 16 output channels; every output value stored on its own.
            output = Double(tiles * ((cout + 15) / 16 * 16)) * a2 * nsPerOutputElement
                + Double(tiles * cout * m * m) * nsPerOutputStore
        } else {
            output = Double(cout) * (lanes * a2 * nsPerOutputElement + runs * Double(m) * nsPerOutputRunCopy)
        }
        let weightBytes = Int(a2) * cout * cin * 4
        let stream = Double(max(0, weightBytes - cacheBytes)) * nsPerStreamedByte
        return gemm + input + output + stream
    }

    /// Variants the model may pick; none by default, so every convolution runs direct unless
    /// PRPKIT_CONV_ALGORITHM forces a variant. With Captum's default ε = 1e-9, LRP divides by
    /// pre-activations near 0 and amplifies Winograd's error (bounded relative to a tile's
    /// magnitude, not each output's) past the parity bounds, which direct float32 meets:
    /// F(2×2) puts VGG11 224² default-rule LRP 3.9e-3 off Captum-float64 (bound 1.4e-4,
    /// test_lrp.py), F(4×4) puts LayerLRP at an inner conv of VGG11-BN 1.6e-2 off (bound
    /// 3.3e-6, test_lrp_api.py). Tests widen it to exercise the model's choices.
    nonisolated(unsafe) static package var admissible: [Int] = []

    /// The Winograd layout to use, or nil for the direct convolution.
    static package func winograd(ho: Int, wo: Int, cin: Int, cout: Int, kernels ks: GEMMKernelSet) -> ConvWeightLayout? {
        var candidates = admissible
        switch forced {
        case .direct?: return nil
        case .winograd(let m, _)?: candidates = [m]
        default: break
        }
        var best: (layout: ConvWeightLayout, cost: Double)? = nil
        for m in candidates {
            for rows in [false, true] {
                let cost = winogradCost(m: m, tilesAsRows: rows, ho: ho, wo: wo, cin: cin, cout: cout, kernels: ks)
                if cost < (best?.cost ?? .infinity) { best = (.winograd(m: m, tilesAsRows: rows), cost) }
            }
        }
        guard var best else { return nil }
        if forced != nil { return best.layout }
        // F(2×2)'s transformed weights are 16/36 of F(4×4)'s, and they stay resident for the
        // model's lifetime (per rule weight set): take F(2×2) unless F(4×4) is clearly faster.
        if case .winograd(4, _) = best.layout {
            var f2: (layout: ConvWeightLayout, cost: Double)? = nil
            for rows in [false, true] {
                let cost = winogradCost(m: 2, tilesAsRows: rows, ho: ho, wo: wo, cin: cin, cout: cout, kernels: ks)
                if cost < (f2?.cost ?? .infinity) { f2 = (.winograd(m: 2, tilesAsRows: rows), cost) }
            }
            if let f2, f2.cost <= best.cost * (1 + f2Preference) { best = f2 }
        }
        return best.cost < margin * directCost(ho: ho, wo: wo, cin: cin, cout: cout, kernels: ks) ? best.layout : nil
    }

    /// `PRPKIT_CONV_ALGORITHM` = direct | winograd2 | winograd4 | winograd6 overrides the
    /// model for every convolution Winograd applies to (measurements of each variant's
    /// error and speed); unset or `auto` leaves the choice to the model.
    static package let forced: ConvWeightLayout? = {
        guard let env = getenv("PRPKIT_CONV_ALGORITHM") else { return nil }
        switch String(cString: env) {
        case "direct": return .direct
        case "winograd2": return .winograd(m: 2, tilesAsRows: false)
        case "winograd4": return .winograd(m: 4, tilesAsRows: false)
        case "winograd6": return .winograd(m: 6, tilesAsRows: false)
        default: return nil
        }
    }()
}
