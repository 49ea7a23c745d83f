import XCTest
#if canImport(Glibc)
import Glibc
#endif
@testable import PRPKit
@testable import PRPKitGraph
@testable import PRPKitKernels

/// The persistent worker pool: every chunk runs exactly once, whatever the thread count,
/// nesting or concurrent callers; per-thread overrides reach the kernels of that thread only.
final class ParallelTests: XCTestCase {
    /// Runs `forEach(count)` and returns how often each index ran.
    func hits(_ count: Int) -> [Int] {
        var counts = [Int](repeating: 0, count: count)
        counts.withUnsafeMutableBufferPointer { c in
            let p = c.baseAddress!
            Parallel.forEach(count) { i in p[i] += 1 }
        }
        return counts
    }

    func testEveryChunkRunsOnceForManyCountsAndThreadCounts() {
        for threads in [1, 2, 3, 8] {
            Parallel.withThreadCount(threads) {
                for count in [0, 1, 2, 3, 7, 64, 1000] {
                    XCTAssertEqual(hits(count), [Int](repeating: 1, count: count), "threads \(threads), count \(count)")
                }
            }
        }
    }

    func testManySmallLoopsInARow() {
        // Kernels issue loops back to back; each must complete before forEach returns.
        Parallel.withThreadCount(2) {
            var total = 0
            for round in 0..<5000 {
                let h = hits(1 + round % 5)
                total += h.reduce(0, +)
                XCTAssertEqual(h.max(), 1)
            }
            XCTAssertEqual(total, (0..<5000).reduce(0) { $0 + 1 + $1 % 5 })
        }
    }

    func testNestedLoopsRunInline() {
        Parallel.withThreadCount(2) {
            var grid = [Int](repeating: 0, count: 16 * 16)
            grid.withUnsafeMutableBufferPointer { g in
                let p = g.baseAddress!
                Parallel.forEach(16) { i in
                    Parallel.forEach(16) { j in p[i * 16 + j] += 1 }
                }
            }
            XCTAssertEqual(grid, [Int](repeating: 1, count: 256))
        }
    }

    func testConcurrentCallersEachGetAllTheirChunks() {
        let callers = 4
        var failures = [Int](repeating: 0, count: callers)
        failures.withUnsafeMutableBufferPointer { f in
            let fp = f.baseAddress!
            DispatchQueueLike.concurrent(callers) { caller in
                Parallel.withThreadCount(2) {
                    for round in 0..<300 where self.hits(1 + (round + caller) % 9) != [Int](repeating: 1, count: 1 + (round + caller) % 9) {
                        fp[caller] += 1
                    }
                }
            }
        }
        XCTAssertEqual(failures, [Int](repeating: 0, count: callers))
    }

    func testThreadOverrideIsPerThreadAndRestored() {
        let process = Parallel.threadCount
        Parallel.withThreadCount(3) {
            XCTAssertEqual(Parallel.threadCount, 3)
            var seen = 0
            DispatchQueueLike.concurrent(1) { _ in seen = Parallel.threadCount }
            XCTAssertEqual(seen, process, "another thread keeps the process-wide count")
            Parallel.withThreadCount(0) { XCTAssertEqual(Parallel.threadCount, process) }
            XCTAssertEqual(Parallel.threadCount, 3)
        }
        XCTAssertEqual(Parallel.threadCount, process)
        XCTAssertEqual(Parallel.threadOverride, 0)
    }

    func testLoopUsesAtMostItsThreadCount() {
        // Distinct threads that ran chunks, with chunks long enough for every worker to join.
        func threadsUsed(_ threads: Int) -> Int {
            var ids = [pthread_t](repeating: 0, count: 64)
            ids.withUnsafeMutableBufferPointer { b in
                let p = b.baseAddress!
                Parallel.withThreadCount(threads) {
                    Parallel.forEach(64) { i in
                        p[i] = pthread_self()
                        usleep(500)
                    }
                }
            }
            return Set(ids).count
        }
        XCTAssertEqual(threadsUsed(1), 1)
        XCTAssertLessThanOrEqual(threadsUsed(2), 2)
        XCTAssertGreaterThanOrEqual(threadsUsed(2), 2, "the persistent workers take chunks")
        XCTAssertLessThanOrEqual(threadsUsed(3), 3)
    }
}

/// `count` plain pthreads running `body(index)`, joined before returning.
enum DispatchQueueLike {
    static func concurrent(_ count: Int, _ body: @escaping (Int) -> Void) {
        final class Box { let body: (Int) -> Void; let index: Int; init(_ b: @escaping (Int) -> Void, _ i: Int) { body = b; index = i } }
        var threads: [pthread_t] = []
        for i in 0..<count {
            var t = pthread_t()
            let box = Unmanaged.passRetained(Box(body, i)).toOpaque()
            pthread_create(&t, nil, { raw in
                let box = Unmanaged<Box>.fromOpaque(raw!).takeRetainedValue()
                box.body(box.index)
                return nil
            }, box)
            threads.append(t)
        }
        for t in threads { pthread_join(t, nil) }
    }
}
