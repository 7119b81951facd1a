import Synchronization

/// A sleep that another task can cut short: a trigger's loop waits on it (for a timeout, a
/// resume, or room in its window) and `wake()` ends the wait early. A wake that arrives while
/// nobody waits ends the next wait at once, so none is lost; the loops re-check their state.
final class WakeSignal: Sendable {
    private enum State {
        case idle
        case waiting(CheckedContinuation<Void, Never>)
        case signalled
    }

    private let state = Mutex(State.idle)

    /// Returns after `duration`, at `wake()`, or when the task is cancelled.
    func wait(for duration: Duration) async {
        // A wake that came first ends this wait without a timer (a busy trigger is woken once
        // per finished batch: a sleeper task and its timer per wait cost more than the wait).
        let signalled = state.withLock { s -> Bool in
            guard case .signalled = s else { return false }
            s = .idle
            return true
        }
        if signalled { return }
        let sleeper = Task { [weak self] in
            // A cancelled sleeper must not wake a later wait.
            guard (try? await Task.sleep(for: duration)) != nil else { return }
            self?.wake()
        }
        await withTaskCancellationHandler {
            await withCheckedContinuation { (c: CheckedContinuation<Void, Never>) in
                let resumeNow = state.withLock { s -> Bool in
                    if case .signalled = s {
                        s = .idle
                        return true
                    }
                    s = .waiting(c)
                    return false
                }
                if resumeNow {
                    c.resume()
                } else if Task.isCancelled {
                    wake()
                }
            }
        } onCancel: {
            wake()
        }
        sleeper.cancel()
    }

    func wake() {
        let waiter = state.withLock { s -> CheckedContinuation<Void, Never>? in
            switch s {
            case .waiting(let c):
                s = .idle
                return c
            case .idle, .signalled:
                s = .signalled
                return nil
            }
        }
        waiter?.resume()
    }
}
