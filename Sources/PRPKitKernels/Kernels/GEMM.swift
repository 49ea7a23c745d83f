/// Cache blocking of the packed GEMM (floats). KC·nr·4 bytes of a B strip and an mr·KC
/// A sliver stream through L1; an MC × KC A block (≈144 KB) and a KC × NC B panel
/// (≈512 KB) stay in the 1 MB L2 of this machine.
package enum GEMMBlocking {
    static package let kc = 256
    static package let mc = 144   // multiple of mr = 6
    static package let nc = 512   // multiple of every nr (64, 16, 8)
}

/// A 64-byte aligned float scratch buffer (packed panels are read with full-width loads).
package struct AlignedFloats {
    package let pointer: UnsafeMutablePointer<Float>
    package let count: Int
    package init(count: Int) {
        self.count = max(count, 16)
        pointer = UnsafeMutableRawPointer.allocate(byteCount: self.count * 4, alignment: 64)
            .bindMemory(to: Float.self, capacity: self.count)
    }
    package init(pointer: UnsafeMutablePointer<Float>, count: Int) {
        self.pointer = pointer; self.count = count
    }
    /// Returns the buffer to `ScratchPool` for reuse.
    package func free() { ScratchPool.give(self) }
}

#if canImport(Glibc)
import Glibc
#endif

/// Reuses large aligned scratch buffers across kernel calls (fresh multi-megabyte
/// allocations cost page faults on every call). Thread-safe; a buffer is owned by one
/// caller between `take` and `give`.
package enum ScratchPool {
    nonisolated(unsafe) private static var free: [(pointer: UnsafeMutablePointer<Float>, count: Int)] = []
    nonisolated(unsafe) private static var lock: UnsafeMutablePointer<pthread_mutex_t> = {
        let m = UnsafeMutablePointer<pthread_mutex_t>.allocate(capacity: 1)
        pthread_mutex_init(m, nil)
        return m
    }()
    /// Keeps at most this many idle buffers (the largest ones).
    static package let maxIdle = 8

    /// A buffer of at least `count` floats, 64-byte aligned.
    static package func take(_ count: Int) -> AlignedFloats {
        let n = max(count, 16)
        pthread_mutex_lock(lock)
        var best = -1
        for (i, b) in free.enumerated() where b.count >= n && (best < 0 || b.count < free[best].count) { best = i }
        let hit = best >= 0 ? free.remove(at: best) : nil
        pthread_mutex_unlock(lock)
        if let hit { return AlignedFloats(pointer: hit.pointer, count: hit.count) }
        return AlignedFloats(count: n)
    }

    static package func give(_ b: AlignedFloats) {
        pthread_mutex_lock(lock)
        free.append((b.pointer, b.count))
        var evicted: UnsafeMutablePointer<Float>? = nil
        if free.count > maxIdle, let i = free.indices.min(by: { free[$0].count < free[$1].count }) {
            evicted = free.remove(at: i).pointer
        }
        pthread_mutex_unlock(lock)
        if let evicted { UnsafeMutableRawPointer(evicted).deallocate() }
    }
}

extension Kernels {
    /// C = A·B (or C += A·B when `accumulate`), plus `rowBias[i]` and/or `colBias[j]` when given.
    /// Element (i, j) of an operand X lives at x[i·rowStrideX + j·colStrideX]: a transposed
    /// operand is the same memory with swapped strides. A is m × k, B is k × n, C is m × n;
    /// C must not alias A or B. Blocked, packed, SIMD (best ISA of the CPU), on
    /// `Parallel.threadCount` threads.
    public static func gemm(m: Int, n: Int, k: Int,
                            a: UnsafePointer<Float>, rowStrideA: Int, colStrideA: Int,
                            b: UnsafePointer<Float>, rowStrideB: Int, colStrideB: Int,
                            c: UnsafeMutablePointer<Float>, rowStrideC: Int, colStrideC: Int,
                            accumulate: Bool = false,
                            rowBias: UnsafePointer<Float>? = nil, colBias: UnsafePointer<Float>? = nil) {
        if m <= 0 || n <= 0 { return }
        if k <= 0 {
            for i in 0..<m {
                for j in 0..<n {
                    let p = c + i * rowStrideC + j * colStrideC
                    p.pointee = (accumulate ? p.pointee : 0) + (rowBias?[i] ?? 0) + (colBias?[j] ?? 0)
                }
            }
            return
        }
        let ks = GEMMKernelSet.current
        let nStrips = (n + ks.nr - 1) / ks.nr
        let mSlivers = (m + ks.mr - 1) / ks.mr
        let threads = (m * n * k >= 1 << 17) ? Parallel.threadCount : 1
        // Split N into strip ranges; split M too when N alone gives too few strips.
        let nParts = min(nStrips, threads)
        let mParts = (threads > 1 && nStrips < 4 * threads && mSlivers >= 2 * threads) ? threads : 1
        Parallel.forEach(nParts * mParts) { job in
            let np = job % nParts, mp = job / nParts
            let s0 = np * nStrips / nParts, s1 = (np + 1) * nStrips / nParts
            let r0 = mp * mSlivers / mParts, r1 = (mp + 1) * mSlivers / mParts
            let j0 = s0 * ks.nr, j1 = min(n, s1 * ks.nr)
            let i0 = r0 * ks.mr, i1 = min(m, r1 * ks.mr)
            if j1 <= j0 || i1 <= i0 { return }
            gemmBlock(ks, m: i1 - i0, n: j1 - j0, k: k,
                      a: a + i0 * rowStrideA, rsA: rowStrideA, csA: colStrideA,
                      b: b + j0 * colStrideB, rsB: rowStrideB, csB: colStrideB,
                      c: c + i0 * rowStrideC + j0 * colStrideC, rsC: rowStrideC, csC: colStrideC,
                      load: accumulate, rowBias: rowBias.map { $0 + i0 }, colBias: colBias.map { $0 + j0 })
        }
    }

    /// Single-threaded blocked GEMM over the whole of its (sub)problem.
    static package func gemmBlock(_ ks: GEMMKernelSet, m: Int, n: Int, k: Int,
                          a: UnsafePointer<Float>, rsA: Int, csA: Int,
                          b: UnsafePointer<Float>, rsB: Int, csB: Int,
                          c: UnsafeMutablePointer<Float>, rsC: Int, csC: Int,
                          load: Bool, rowBias: UnsafePointer<Float>?, colBias: UnsafePointer<Float>?) {
        let kcMax = min(k, GEMMBlocking.kc)
        let mcMax = min(GEMMBlocking.mc, (m + ks.mr - 1) / ks.mr * ks.mr)
        let ncMax = min(GEMMBlocking.nc, (n + ks.nr - 1) / ks.nr * ks.nr)
        let aBuf = ScratchPool.take(mcMax * kcMax), bBuf = ScratchPool.take(kcMax * ncMax)
        defer { aBuf.free(); bBuf.free() }
        var jc = 0
        while jc < n {
            let nc = min(GEMMBlocking.nc, n - jc)
            var pc = 0
            while pc < k {
                let kc = min(GEMMBlocking.kc, k - pc)
                ks.packB(b + pc * rsB + jc * csB, rsB, csB, kc, nc, bBuf.pointer)
                var ic = 0
                while ic < m {
                    let mc = min(GEMMBlocking.mc, m - ic)
                    ks.packA(a + ic * rsA + pc * csA, rsA, csA, mc, kc, aBuf.pointer)
                    ks.macroKernel(mc, nc, kc, aBuf.pointer, bBuf.pointer,
                                   c + ic * rsC + jc * csC, rsC, csC, load || pc > 0,
                                   pc == 0 ? rowBias.map { $0 + ic } : nil,
                                   pc == 0 ? colBias.map { $0 + jc } : nil)
                    ic += mc
                }
                pc += kc
            }
            jc += nc
        }
    }
}
