// Packing and register-tile kernels of the BLIS-style GEMM.
//
// ONE source compiled three times: this file lives in _PRPKitKernelsV4 and is a relative
// symlink in _PRPKitKernelsV3 and _PRPKitKernelsBase. Each target's ISAWidth.swift defines
// `Panel` (one packed row of a B strip: SIMD64 / SIMD16 / SIMD8 floats) and `madd`
// (fused multiply-add on v3/v4, plain multiply + add on the baseline). The driver
// (blocking loops, threads, dispatch) is PRPKit's Kernels/GEMM.swift.
//
// Packed layouts (all zero-padded to whole tiles):
//   A block (mc × kc): slivers of `mr` rows; sliver s holds, for k = 0..<kc, the mr
//     values A[s·mr + r][k] contiguously: a[(s·kc + k)·mr + r].
//   B block (kc × nc): strips of `nr` columns; strip t holds, for k = 0..<kc, the nr
//     values B[k][t·nr + c] contiguously: b[(t·kc + k)·nr + c].

public enum ISAKernels {
    /// Rows of the register tile.
    public static let mr = 6
    /// Columns of the register tile (= floats per packed B row).
    public static let nr = Panel.scalarCount

    // MARK: packing

    /// Packs the mc × kc block whose first element is `a` (element (i, k) at a[i·rs + k·cs]).
    /// `dst` must hold ceil(mc / mr)·mr·kc floats.
    public static func packA(_ a: UnsafePointer<Float>, rs: Int, cs: Int, mc: Int, kc: Int,
                             into dst: UnsafeMutablePointer<Float>) {
        var s = 0
        while s * mr < mc {
            let i0 = s * mr
            let rows = min(mr, mc - i0)
            let d = dst + s * mr * kc
            if rows < mr {
                d.initialize(repeating: 0, count: mr * kc)
            }
            if cs == 1 && rows == 6 && mr == 6 {
                // Six read streams, one sequential write stream.
                let r0 = a + i0 * rs, r1 = r0 + rs, r2 = r1 + rs, r3 = r2 + rs, r4 = r3 + rs, r5 = r4 + rs
                var o = d
                for k in 0..<kc {
                    o[0] = r0[k]; o[1] = r1[k]; o[2] = r2[k]; o[3] = r3[k]; o[4] = r4[k]; o[5] = r5[k]
                    o += 6
                }
            } else if cs == 1 {
                for r in 0..<rows {
                    let src = a + (i0 + r) * rs
                    for k in 0..<kc { d[k * mr + r] = src[k] }
                }
            } else {
                for k in 0..<kc {
                    let src = a + i0 * rs + k * cs
                    for r in 0..<rows { d[k * mr + r] = src[r * rs] }
                }
            }
            s += 1
        }
    }

    /// Packs the kc × nc block whose first element is `b` (element (k, j) at b[k·rs + j·cs]).
    /// `dst` must hold ceil(nc / nr)·nr·kc floats.
    public static func packB(_ b: UnsafePointer<Float>, rs: Int, cs: Int, kc: Int, nc: Int,
                             into dst: UnsafeMutablePointer<Float>) {
        var t = 0
        while t * nr < nc {
            let j0 = t * nr
            let cols = min(nr, nc - j0)
            let d = dst + t * nr * kc
            if cs == 1 && cols == nr {
                for k in 0..<kc {
                    let v = UnsafeRawPointer(b + k * rs + j0).loadUnaligned(as: Panel.self)
                    UnsafeMutableRawPointer(d + k * nr).storeBytes(of: v, as: Panel.self)
                }
            } else if cs == 1 {
                for k in 0..<kc {
                    let src = b + k * rs + j0, row = d + k * nr
                    for c in 0..<cols { row[c] = src[c] }
                    for c in cols..<nr { row[c] = 0 }
                }
            } else {
                if cols < nr { d.initialize(repeating: 0, count: nr * kc) }
                for c in 0..<cols {
                    let src = b + (j0 + c) * cs
                    for k in 0..<kc { d[k * nr + c] = src[k * rs] }
                }
            }
            t += 1
        }
    }

    /// Packs a kc × nc block of the implicit im2col matrix of one image and one group:
    /// row k = (ci, ky, kx) (ci-major, as the weight's (Cin/groups, kh, kw) layout),
    /// column j = (oy, ox) of the output. `x` points at the group's first input channel
    /// (channels of h·w floats). Out-of-image taps are zero.
    public static func packConvB(_ x: UnsafePointer<Float>, h: Int, w: Int, kh: Int, kw: Int,
                                 strideH: Int, strideW: Int, padH: Int, padW: Int,
                                 dilationH: Int, dilationW: Int, wo: Int,
                                 k0: Int, kc: Int, j0: Int, nc: Int,
                                 into dst: UnsafeMutablePointer<Float>) {
        let taps = kh * kw
        var t = 0
        while t * nr < nc {
            let jStart = j0 + t * nr
            let cols = min(nr, nc - t * nr)
            let oyStart = jStart / wo, oxStart = jStart % wo
            let d0 = dst + t * nr * kc
            for kk in 0..<kc {
                let k = k0 + kk
                let ci = k / taps, r = k - ci * taps
                let ky = r / kw, kx = r - ky * kw
                let plane = x + ci * h * w
                let row = d0 + kk * nr
                var c = 0, oy = oyStart, ox = oxStart
                let xOff = kx * dilationW - padW
                while c < cols {
                    let seg = min(cols - c, wo - ox)
                    let iy = oy * strideH - padH + ky * dilationH
                    let out = row + c
                    if iy < 0 || iy >= h {
                        out.initialize(repeating: 0, count: seg)
                    } else {
                        let src = plane + iy * w
                        if strideW == 1 {
                            // ix = ox + q + xOff for q in 0..<seg; valid where 0 ≤ ix < w.
                            let ix0 = ox + xOff
                            let lo = min(seg, max(0, -ix0))
                            let hi = max(lo, min(seg, w - ix0))
                            for q in 0..<lo { out[q] = 0 }
                            if hi > lo { (out + lo).update(from: src + ix0 + lo, count: hi - lo) }
                            for q in hi..<seg { out[q] = 0 }
                        } else {
                            // ix = base + q·strideW; valid (0 ≤ ix < w) for q in lo..<hi.
                            let base = ox * strideW + xOff
                            let lo = base >= 0 ? 0 : min(seg, (-base + strideW - 1) / strideW)
                            let hi = base > w - 1 ? lo : max(lo, min(seg, (w - 1 - base) / strideW + 1))
                            for q in 0..<lo { out[q] = 0 }
                            var sp = src + (base + lo * strideW)
                            for q in lo..<hi { out[q] = sp.pointee; sp += strideW }
                            for q in hi..<seg { out[q] = 0 }
                        }
                    }
                    c += seg
                    ox = 0
                    oy += 1
                }
                for q in cols..<nr { row[q] = 0 }
            }
            t += 1
        }
    }

    // MARK: compute

    /// C[mc × nc] (op)= A_packed · B_packed over one kc block. `c` points at C's element
    /// (0, 0) of this block (element (i, j) at c[i·rsC + j·csC]). The tile result is
    /// added to C when `load`, else it replaces it; `rowBias[i]` and `colBias[j]`, when
    /// given, are added too (pass them for the first kc block only).
    public static func macroKernel(mc: Int, nc: Int, kc: Int,
                                   a: UnsafePointer<Float>, b: UnsafePointer<Float>,
                                   c: UnsafeMutablePointer<Float>, rsC: Int, csC: Int,
                                   load: Bool,
                                   rowBias: UnsafePointer<Float>?, colBias: UnsafePointer<Float>?) {
        var jr = 0
        while jr < nc {
            let cols = min(nr, nc - jr)
            let bp = b + jr * kc
            if nr > 16 && cols <= 32 {
                // Narrow edge strip: only the 16-column slices that hold data.
                var q0 = 0
                while q0 < cols {
                    var ir = 0
                    while ir < mc {
                        microKernel16(kc: kc, a: a + ir * kc, b: bp + q0,
                                      c: c + ir * rsC + (jr + q0) * csC, rsC: rsC, csC: csC,
                                      rows: min(mr, mc - ir), cols: min(16, cols - q0), load: load,
                                      rowBias: rowBias.map { $0 + ir }, colBias: colBias.map { $0 + jr + q0 })
                        ir += mr
                    }
                    q0 += 16
                }
                jr += nr
                continue
            }
            var ir = 0
            while ir < mc {
                let rows = min(mr, mc - ir)
                microKernel(kc: kc, a: a + ir * kc, b: bp,
                            c: c + ir * rsC + jr * csC, rsC: rsC, csC: csC,
                            rows: rows, cols: cols, load: load,
                            rowBias: rowBias.map { $0 + ir }, colBias: colBias.map { $0 + jr })
                ir += mr
            }
            jr += nr
        }
    }

    @inline(__always)
    static func ld(_ p: UnsafePointer<Float>) -> Panel {
        UnsafeRawPointer(p).loadUnaligned(as: Panel.self)
    }

    @inline(__always)
    static func st(_ v: Panel, _ p: UnsafeMutablePointer<Float>) {
        UnsafeMutableRawPointer(p).storeBytes(of: v, as: Panel.self)
    }

    /// One mr × nr register tile over kc steps; stores `rows` × `cols` of it.
    @inline(never)
    public static func microKernel(kc: Int, a: UnsafePointer<Float>, b: UnsafePointer<Float>,
                                   c: UnsafeMutablePointer<Float>, rsC: Int, csC: Int,
                                   rows: Int, cols: Int, load: Bool,
                                   rowBias: UnsafePointer<Float>?, colBias: UnsafePointer<Float>?) {
        var c0 = Panel(), c1 = Panel(), c2 = Panel(), c3 = Panel(), c4 = Panel(), c5 = Panel()
        var pa = a, pb = b
        var k = 0
        while k < kc {
            let bv = ld(pb)
            c0 = madd(Panel(repeating: pa[0]), bv, c0)
            c1 = madd(Panel(repeating: pa[1]), bv, c1)
            c2 = madd(Panel(repeating: pa[2]), bv, c2)
            c3 = madd(Panel(repeating: pa[3]), bv, c3)
            c4 = madd(Panel(repeating: pa[4]), bv, c4)
            c5 = madd(Panel(repeating: pa[5]), bv, c5)
            pa += mr
            pb += nr
            k += 1
        }
        if let cb = colBias, cols == nr {
            let v = ld(cb)
            c0 += v; c1 += v; c2 += v; c3 += v; c4 += v; c5 += v
        }
        if rows == mr && cols == nr && csC == 1 {
            if let rb = rowBias {
                c0 += Panel(repeating: rb[0]); c1 += Panel(repeating: rb[1]); c2 += Panel(repeating: rb[2])
                c3 += Panel(repeating: rb[3]); c4 += Panel(repeating: rb[4]); c5 += Panel(repeating: rb[5])
            }
            if load {
                c0 += ld(c); c1 += ld(c + rsC); c2 += ld(c + 2 * rsC)
                c3 += ld(c + 3 * rsC); c4 += ld(c + 4 * rsC); c5 += ld(c + 5 * rsC)
            }
            st(c0, c); st(c1, c + rsC); st(c2, c + 2 * rsC)
            st(c3, c + 3 * rsC); st(c4, c + 4 * rsC); st(c5, c + 5 * rsC)
            return
        }
        // Edge tile or strided C: go through a scratch tile.
        withUnsafeTemporaryAllocation(of: Float.self, capacity: mr * nr) { tile in
            let t = tile.baseAddress!
            st(c0, t); st(c1, t + nr); st(c2, t + 2 * nr)
            st(c3, t + 3 * nr); st(c4, t + 4 * nr); st(c5, t + 5 * nr)
            for r in 0..<rows {
                let rb: Float = rowBias.map { $0[r] } ?? 0
                let dst = c + r * rsC, src = t + r * nr
                for j in 0..<cols {
                    var v = src[j] + rb
                    if cols < nr, let cb = colBias { v += cb[j] }
                    if load { v += dst[j * csC] }
                    dst[j * csC] = v
                }
            }
        }
    }

    /// An mr × 16 tile reading the first 16 columns of each packed B row (row stride nr):
    /// the narrow edge strips of a wide register tile. Stores `rows` × `cols` (cols ≤ 16).
    @inline(never)
    static func microKernel16(kc: Int, a: UnsafePointer<Float>, b: UnsafePointer<Float>,
                              c: UnsafeMutablePointer<Float>, rsC: Int, csC: Int,
                              rows: Int, cols: Int, load: Bool,
                              rowBias: UnsafePointer<Float>?, colBias: UnsafePointer<Float>?) {
        typealias V = SIMD16<Float>
        var c0 = V(), c1 = V(), c2 = V(), c3 = V(), c4 = V(), c5 = V()
        var pa = a, pb = b
        for _ in 0..<kc {
            let bv = UnsafeRawPointer(pb).loadUnaligned(as: V.self)
            c0 = madd16(V(repeating: pa[0]), bv, c0)
            c1 = madd16(V(repeating: pa[1]), bv, c1)
            c2 = madd16(V(repeating: pa[2]), bv, c2)
            c3 = madd16(V(repeating: pa[3]), bv, c3)
            c4 = madd16(V(repeating: pa[4]), bv, c4)
            c5 = madd16(V(repeating: pa[5]), bv, c5)
            pa += mr
            pb += nr
        }
        withUnsafeTemporaryAllocation(of: V.self, capacity: 6) { tile in
            tile[0] = c0; tile[1] = c1; tile[2] = c2; tile[3] = c3; tile[4] = c4; tile[5] = c5
            for r in 0..<rows {
                let rb: Float = rowBias.map { $0[r] } ?? 0
                let dst = c + r * rsC, v = tile[r]
                for j in 0..<cols {
                    var x = v[j] + rb
                    if let cb = colBias { x += cb[j] }
                    if load { x += dst[j * csC] }
                    dst[j * csC] = x
                }
            }
        }
    }

    // MARK: small-batch linear

    /// y[b·ldy + o] (op)= Σ_i x[b·ldx + i] · w[o·k + i] (+ bias[o]) for b in 0..<batch,
    /// o in rows: dot products against contiguous weight rows (a GEMV when batch is small).
    public static func dotRows(w: UnsafePointer<Float>, k: Int, rows: Range<Int>,
                               x: UnsafePointer<Float>, ldx: Int, batch: Int,
                               y: UnsafeMutablePointer<Float>, ldy: Int,
                               bias: UnsafePointer<Float>?) {
        typealias V = SIMD16<Float>
        let kv = k & ~15
        for o in rows {
            let wr = w + o * k
            for bi in 0..<batch {
                let xr = x + bi * ldx
                var a0 = V(), a1 = V()
                var i = 0
                while i + 32 <= kv {
                    a0 = madd16(UnsafeRawPointer(wr + i).loadUnaligned(as: V.self),
                                UnsafeRawPointer(xr + i).loadUnaligned(as: V.self), a0)
                    a1 = madd16(UnsafeRawPointer(wr + i + 16).loadUnaligned(as: V.self),
                                UnsafeRawPointer(xr + i + 16).loadUnaligned(as: V.self), a1)
                    i += 32
                }
                while i < kv {
                    a0 = madd16(UnsafeRawPointer(wr + i).loadUnaligned(as: V.self),
                                UnsafeRawPointer(xr + i).loadUnaligned(as: V.self), a0)
                    i += 16
                }
                var s = (a0 + a1).sum()
                while i < k { s += wr[i] * xr[i]; i += 1 }
                y[bi * ldy + o] = s + (bias?[o] ?? 0)
            }
        }
    }
}
