#if canImport(Glibc)
import Glibc
#endif
import Synchronization

/// Persistent worker threads that run the chunks of one parallel loop at a time.
///
/// Why not `DispatchQueue.concurrentPerform`: it hands chunks to GCD's global pool, whose
/// threads are created, parked and woken on GCD's schedule; on small convolutions (tens of
/// microseconds per call) the second core often joins late or not at all. Here the workers
/// stay alive, spin briefly after each loop (kernels come back to back), then sleep on a
/// condition variable; the calling thread takes chunks too.
///
/// One loop runs at a time. A caller that finds the pool busy (another thread's loop) runs
/// its own loop inline: on a machine whose cores are already busy that costs nothing, and it
/// never blocks. Loops started from inside a chunk run inline as well.
@usableFromInline
final package class WorkerPool: @unchecked Sendable {
    @usableFromInline static package let shared = WorkerPool()

    /// One parallel loop. Workers keep a strong reference, so a late worker may still read
    /// `next` after the caller has returned; it then finds no chunk left and never touches
    /// `body` (every call of `body` happens before `finished` reaches `count`, after which
    /// the caller drops `body`: it is only borrowed for the duration of the loop).
    final package class Loop: @unchecked Sendable {
        var body: ((Int) -> Void)?
        let count: Int
        let next = Atomic<Int>(0)
        let finished = Atomic<Int>(0)
        /// Workers that may still join (the loop's thread count minus the caller).
        let seats: Atomic<Int>

        init(body: @escaping (Int) -> Void, count: Int, workers: Int) {
            self.body = body; self.count = count; seats = Atomic(workers)
        }

        /// Takes and runs chunks until none is left; true when this thread ran the last one.
        func work() -> Bool {
            var last = false
            while true {
                let i = next.wrappingAdd(1, ordering: .relaxed).oldValue
                if i >= count { return last }
                body!(i)
                last = finished.wrappingAdd(1, ordering: .acquiringAndReleasing).newValue == count
            }
        }
    }

    private let lock = UnsafeMutablePointer<pthread_mutex_t>.allocate(capacity: 1)
    private let wake = UnsafeMutablePointer<pthread_cond_t>.allocate(capacity: 1)
    private let done = UnsafeMutablePointer<pthread_cond_t>.allocate(capacity: 1)
    /// Bumped for every loop handed to the workers; read without the lock while spinning.
    private let generation = Atomic<Int>(0)
    // Guarded by `lock`.
    private var loop: Loop? = nil
    private var busy = false
    private var workerCount = 0

    /// Spin iterations before a waiting thread sleeps (a few tens of microseconds).
    static package let spinLimit = 4000

    private init() {
        WorkerPool.initSync(lock, wake, done)
        pthread_atfork(nil, nil, { WorkerPool.shared.resetAfterFork() })
    }

    private static func initSync(_ lock: UnsafeMutablePointer<pthread_mutex_t>,
                                 _ wake: UnsafeMutablePointer<pthread_cond_t>,
                                 _ done: UnsafeMutablePointer<pthread_cond_t>) {
        pthread_mutex_init(lock, nil)
        pthread_cond_init(wake, nil)
        pthread_cond_init(done, nil)
    }

    /// A forked child has only the forking thread: the workers are gone, and the parent may
    /// have held the lock mid-loop. Start over with fresh primitives and no workers.
    private func resetAfterFork() {
        WorkerPool.initSync(lock, wake, done)
        loop = nil
        busy = false
        workerCount = 0
        Parallel.insideLoop = false
    }

    /// Runs `body(i)` for i in 0..<count on the caller and up to `threads − 1` workers.
    @usableFromInline package func run(_ count: Int, threads: Int, _ body: @escaping (Int) -> Void) {
        pthread_mutex_lock(lock)
        if busy {
            pthread_mutex_unlock(lock)
            Parallel.runInline(count, body)
            return
        }
        busy = true
        let helpers = min(threads, count) - 1
        while workerCount < helpers { startWorker() }
        let job = Loop(body: body, count: count, workers: helpers)
        loop = job
        generation.wrappingAdd(1, ordering: .releasing)
        pthread_cond_broadcast(wake)
        pthread_mutex_unlock(lock)

        Parallel.insideLoop = true
        _ = job.work()
        Parallel.insideLoop = false
        if job.finished.load(ordering: .acquiring) < count {
            var spins = 0
            while job.finished.load(ordering: .acquiring) < count && spins < WorkerPool.spinLimit { spins += 1 }
            if job.finished.load(ordering: .acquiring) < count {
                pthread_mutex_lock(lock)
                while job.finished.load(ordering: .acquiring) < count { pthread_cond_wait(done, lock) }
                pthread_mutex_unlock(lock)
            }
        }
        job.body = nil
        pthread_mutex_lock(lock)
        loop = nil
        busy = false
        pthread_mutex_unlock(lock)
    }

    /// Called with `lock` held.
    private func startWorker() {
        workerCount += 1
        // Kernels keep their buffers on the heap; a modest stack is enough.
        let started = startDetachedThread(stackBytes: 1 << 20) { [unowned self] in self.workerLoop() }
        if !started { workerCount -= 1 }  // fewer helpers; the caller still does all chunks
    }

    private func workerLoop() -> Never {
        Parallel.insideLoop = true
        var seen = generation.load(ordering: .acquiring)
        while true {
            var spins = 0
            while generation.load(ordering: .acquiring) == seen && spins < WorkerPool.spinLimit { spins += 1 }
            pthread_mutex_lock(lock)
            while generation.load(ordering: .acquiring) == seen { pthread_cond_wait(wake, lock) }
            seen = generation.load(ordering: .acquiring)
            let job = loop
            pthread_mutex_unlock(lock)
            guard let job, job.seats.wrappingSubtract(1, ordering: .relaxed).oldValue > 0 else { continue }
            if job.work() {
                pthread_mutex_lock(lock)
                pthread_cond_broadcast(done)
                pthread_mutex_unlock(lock)
            }
        }
    }
}
