/// One running trigger. The manager starts `run()` in its own task and cancels that task to
/// stop the trigger (on undeploy, config change or shutdown); `run()` returns once it has
/// cleaned up (a Kafka trigger commits the offsets of finished work first).
public protocol TriggerRunner: Actor {
    func run() async
    func setPaused(_ paused: Bool)
    func status() -> TriggerStatus
}
