import Synchronization

/// Bounds how many runtimes boot from scratch at once on the node.
///
/// A burst from zero asks a pool for many instances at the same moment; booting all of them
/// together on a small machine makes every one of them slow (32 Node.js boots on 2 cores
/// take seconds each), so none is ready early. Through the gate, a few boot at a time: the
/// first are ready in tens of milliseconds and start draining the queue while the rest
/// follow. Specializing a pre-booted process does not pass the gate (it boots nothing).
public final class BootGate: Sendable {
    struct State {
        var available: Int
        var waiters: [CheckedContinuation<Void, Never>] = []
    }

    private let state: Mutex<State>

    public init(permits: Int) {
        state = Mutex(State(available: max(1, permits)))
    }

    /// Waits for a permit.
    func acquire() async {
        await withCheckedContinuation { (c: CheckedContinuation<Void, Never>) in
            let granted = state.withLock { s in
                if s.available > 0 {
                    s.available -= 1
                    return true
                }
                s.waiters.append(c)
                return false
            }
            if granted { c.resume() }
        }
    }

    /// Returns a permit (to the longest waiter, if any).
    func release() {
        let next: CheckedContinuation<Void, Never>? = state.withLock { s in
            if !s.waiters.isEmpty { return s.waiters.removeFirst() }
            s.available += 1
            return nil
        }
        next?.resume()
    }
}
