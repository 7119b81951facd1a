import SwellStore
import Testing

/// The cluster-wide async cap decision as a value: what a claim may take of capped functions.
struct TaskCapAdmissionTests {
    typealias F = TaskCapAdmission.Function
    let f = F(namespace: "n", function: "f")
    let g = F(namespace: "n", function: "g")

    func c(_ id: String, _ fn: F, cap: Int?) -> TaskCapAdmission.Candidate { .init(id: id, function: fn, cap: cap) }

    @Test func uncappedCandidatesAlwaysGoInOrder() {
        let kept = TaskCapAdmission.admit([c("a", f, cap: nil), c("b", g, cap: nil)], held: [:], locked: [], nodes: 3)
        #expect(kept == ["a", "b"])
    }

    @Test func aCapSmallerThanTheNodesHoldsClusterWide() {
        // Cap 1 over 3 nodes: one task of f in the whole cluster at a time.
        let batch = [c("a", f, cap: 1), c("b", f, cap: 1), c("x", g, cap: nil)]
        #expect(TaskCapAdmission.admit(batch, held: [:], locked: [f], nodes: 3) == ["a", "x"])
        // Another node holds one: nothing more of f.
        #expect(TaskCapAdmission.admit(batch, held: [f: .init(total: 1, mine: 0)], locked: [f], nodes: 3) == ["x"])
    }

    @Test func aNodeTakesAtMostItsShare() {
        // Cap 4 over 3 nodes: at most 2 per node (the node's own runs are capped at ⌈4/3⌉), 4 in all.
        let batch = (0..<5).map { c("t\($0)", f, cap: 4) }
        #expect(TaskCapAdmission.admit(batch, held: [:], locked: [f], nodes: 3) == ["t0", "t1"])
        #expect(TaskCapAdmission.admit(batch, held: [f: .init(total: 3, mine: 1)], locked: [f], nodes: 3) == ["t0"])
        #expect(TaskCapAdmission.admit(batch, held: [f: .init(total: 4, mine: 0)], locked: [f], nodes: 3) == [])
        // One node alone takes the whole cap.
        #expect(TaskCapAdmission.admit(batch, held: [:], locked: [f], nodes: 1) == ["t0", "t1", "t2", "t3"])
        #expect(TaskCapAdmission.share(cap: 1, nodes: 3) == 1 && TaskCapAdmission.share(cap: 7, nodes: 2) == 4)
        #expect(TaskCapAdmission.share(cap: 5, nodes: 0) == 5)
    }

    @Test func aFunctionWhoseLockAnotherClaimHoldsIsSkipped() {
        let batch = [c("a", f, cap: 2), c("b", g, cap: 2), c("x", F(namespace: "m", function: "h"), cap: nil)]
        #expect(TaskCapAdmission.admit(batch, held: [:], locked: [g], nodes: 1) == ["b", "x"])
    }

    @Test func qualifiersOfOneFunctionShareItsSlotsWithTheirOwnCaps() {
        // A version capped at 3 and $LATEST at 1: the slots are the function's, each task checked against its own cap.
        let batch = [c("v", f, cap: 3), c("latest", f, cap: 1), c("v2", f, cap: 3)]
        #expect(TaskCapAdmission.admit(batch, held: [:], locked: [f], nodes: 1) == ["v", "v2"])
    }
}
