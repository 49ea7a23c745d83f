import Foundation
import XCTest
@testable import PRPKit
@testable import PRPKitGraph
@testable import PRPKitKernels

/// One loaded model and one explainer shared by several caller threads at once, each call
/// also splitting its kernels over worker threads (include/prpkit.h: a loaded model is
/// immutable and any number of threads may use it). Every thread's results must be
/// bit-identical to a run on one thread. Under ThreadSanitizer (scripts/test_sanitizers.sh)
/// this is the check that shared state — the tensor pool, the kernel workers, the graph —
/// has no data race.
final class ConcurrencyTests: XCTestCase {
    /// The bit patterns of every float of `tensors`.
    static func bits(_ tensors: [Tensor]) -> [[UInt32]] {
        tensors.map { t in UnsafeBufferPointer(start: t.data, count: t.count).map(\.bitPattern) }
    }

    /// What the caller threads report, under a lock.
    final class Reports: @unchecked Sendable {
        let lock = NSLock()
        var results: [[[UInt32]]] = []
        var failures: [String] = []
    }

    func testOneModelSharedByManyThreads() throws {
        let c = try Fixtures.load("models", "protopnet_small_trunk")
        let graph = c.graph, x = c.inputs[0]
        let explainer = try Explainer(model: graph, config: ExplainerConfig(composite: PRPCompositeOptions()))
        XCTAssertEqual(explainer.graph.shapes[explainer.graph.outputs[0]]?.count, 4, "the composite's first output is a similarity map")
        let targets = (0..<x.shape[0]).map { n in [n % 2, 0, 0] }  // (prototype, h, w) of the similarity map

        let work: @Sendable () throws -> [[UInt32]] = {
            let forward = try graph.forward([x]).outputs
            let heatmaps = try explainer.prpExplainer.explain(x, prototypes: [0, 1], location: .max)
            let lrp = try explainer.lrp.attribute([x], targets: targets)
            return ConcurrencyTests.bits(forward + [heatmaps.relevance, heatmaps.similarity] + lrp.relevance)
        }

        let saved = Parallel.threadCount
        defer { Parallel.threadCount = saved }
        Parallel.threadCount = 2
        let reference = try work()

        let callers = 4, rounds = 3
        let reports = Reports()
        let done = DispatchSemaphore(value: 0)
        for _ in 0..<callers {
            Thread {
                for _ in 0..<rounds {
                    do {
                        let r = try work()
                        reports.lock.withLock { reports.results.append(r) }
                    } catch {
                        reports.lock.withLock { reports.failures.append("\(error)") }
                    }
                }
                done.signal()
            }.start()
        }
        for _ in 0..<callers { done.wait() }
        XCTAssertEqual(reports.failures, [])
        XCTAssertEqual(reports.results.count, callers * rounds)
        for (i, r) in reports.results.enumerated() where r != reference {
            XCTFail("concurrent run \(i) differs from the single-threaded run")
        }
    }
}
