import SwellModel
import Testing

@testable import SwellScheduler

@Suite struct GPUPackingTests {
    let two = [GPUDevice(index: 0, memoryMB: 16384), GPUDevice(index: 1, memoryMB: 16384)]

    @Test func bestFitPacksOneGPUBeforeOpeningTheNext() {
        var p = GPUPacking<String>(devices: two)
        #expect(p.place("a", memoryMB: 4096)?.device == 0)  // tie: lowest index
        #expect(p.place("b", memoryMB: 4096)?.device == 0)  // 0 has less free that still fits
        #expect(p.place("c", memoryMB: 8192)?.device == 0)  // fills 0 exactly
        #expect(p.freeMB(0) == 0 && p.freeMB(1) == 16384)
        #expect(p.place("d", memoryMB: 4096)?.device == 1)
    }

    @Test func aLargeShareFindsTheGPUKeptWhole() {
        let devices = [GPUDevice(index: 0, memoryMB: 8192), GPUDevice(index: 1, memoryMB: 16384)]
        var p = GPUPacking<Int>(devices: devices)
        // Best fit puts small shares on the smaller GPU, so that the big one stays whole.
        #expect(p.place(1, memoryMB: 2048)?.device == 0)
        #expect(p.place(2, memoryMB: 2048)?.device == 0)
        #expect(p.place(3, memoryMB: 16384)?.device == 1)
        // First fit would have put 1 and 2 on GPU 0 too, but a worst-fit or round-robin packer not.
        #expect(p.place(4, memoryMB: 4096)?.device == 0)
        #expect(p.place(5, memoryMB: 1)?.device == nil)
    }

    @Test func noRoomRefusesAndChangesNothingAndReleaseMakesRoom() {
        var p = GPUPacking<String>(devices: two)
        #expect(p.place("a", memoryMB: 12288)?.device == 0)
        #expect(p.place("b", memoryMB: 12288)?.device == 1)
        #expect(p.place("c", memoryMB: 8192) == nil)  // 4096 free on each: a share never spans GPUs
        #expect(p.placement(of: "c") == nil && p.largestFreeMB == 4096)
        p.release("a")
        #expect(p.place("c", memoryMB: 8192)?.device == 0)
        p.release("nobody")  // unknown holder: nothing happens
        #expect(p.freeMB(0) == 8192 && p.freeMB(1) == 4096)
    }

    @Test func aHolderKeepsItsPlacementAndNoGPUsMeansNoRoom() {
        var p = GPUPacking<String>(devices: two)
        let first = p.place("a", memoryMB: 1024)
        #expect(p.place("a", memoryMB: 1024) == first)
        #expect(p.freeMB(0) == 16384 - 1024)
        var none = GPUPacking<String>(devices: [])
        #expect(none.place("a", memoryMB: 1) == nil && none.largestFreeMB == 0)
        #expect(p.bestFit(memoryMB: 0) == nil)
    }

    @Test func manySharesNeverOvercommitAnyGPU() {
        var p = GPUPacking<Int>(devices: [GPUDevice(index: 0, memoryMB: 10000), GPUDevice(index: 3, memoryMB: 7000), GPUDevice(index: 5, memoryMB: 3000)])
        var rng = SystemRandomNumberGenerator()
        var placed: [Int: GPUPacking<Int>.Placement] = [:]
        for i in 0..<2000 {
            if !placed.isEmpty, Bool.random(using: &rng) {
                let victim = placed.keys.randomElement(using: &rng)!
                p.release(victim)
                placed[victim] = nil
            } else if let where_ = p.place(i, memoryMB: Int.random(in: 1...4000, using: &rng)) {
                placed[i] = where_
            }
            for d in p.devices {
                let used = placed.values.filter { $0.device == d.index }.reduce(0) { $0 + $1.memoryMB }
                #expect(used <= d.memoryMB && p.freeMB(d.index) == d.memoryMB - used)
            }
        }
    }

    @Test func gpuListsParseAndBadOnesNameTheFlag() throws {
        #expect(try GPUDevice.parseList("0:16384,1:16384") == two)
        #expect(try GPUDevice.parseList("7:1") == [GPUDevice(index: 7, memoryMB: 1)])
        for bad in ["", "0", "0:", ":5", "a:1", "0:16384,", "0:0", "0:-5", "-1:5", "0:1,0:2", "1024:5", "0:16384;1:1"] {
            #expect(throws: GPUDevice.ParseError.self, "\(bad)") { try GPUDevice.parseList(bad) }
            do { _ = try GPUDevice.parseList(bad) } catch { #expect(error.message.hasPrefix("--gpu: ")) }
        }
    }
}

@Suite struct NodeCapacityGPUTests {
    let a = NodeCapacity.Holder(pool: 1, instance: 1)
    let b = NodeCapacity.Holder(pool: 1, instance: 2)
    let c = NodeCapacity.Holder(pool: 2, instance: 1)
    let gpus = [GPUDevice(index: 0, memoryMB: 8192), GPUDevice(index: 1, memoryMB: 8192)]

    @Test func instancesGetASharePackedByBestFitAndQueueWhenNoGPUHasRoom() {
        var n = NodeCapacity(memoryBudgetMB: 100_000, namespaceMaxInstances: 100, gpus: gpus)
        #expect(n.reserve(a, namespace: "x", memoryMB: 128, gpuMemoryMB: 6000, now: .zero) == .granted(evict: []))
        #expect(n.gpuPlacement(of: a) == .init(device: 0, memoryMB: 6000))
        #expect(n.reserve(b, namespace: "x", memoryMB: 128, gpuMemoryMB: 6000, now: .zero) == .granted(evict: []))
        #expect(n.gpuPlacement(of: b)?.device == 1)
        n.markBusy(a, now: .seconds(1))
        n.markBusy(b, now: .seconds(1))
        // Both busy: a third share of 6000 fits nowhere, and nothing is evicted.
        #expect(n.reserve(c, namespace: "x", memoryMB: 128, gpuMemoryMB: 6000, now: .seconds(2)) == .denied(.gpu(neededMB: 6000, largestFreeMB: 2192)))
        #expect(n.instanceCount == 2 && n.reservedMB == 256)
        // A small share still fits beside one of them, and an instance without a share ignores GPUs.
        #expect(n.reserve(c, namespace: "x", memoryMB: 128, gpuMemoryMB: 2000, now: .seconds(2)) == .granted(evict: []))
        #expect(n.gpuPlacement(of: c)?.device == 0)
        n.release(c)
        #expect(n.gpuPlacement(of: c) == nil)
        #expect(n.reserve(c, namespace: "x", memoryMB: 128, now: .seconds(2)) == .granted(evict: []))
        #expect(n.gpuPlacement(of: c) == nil)
    }

    @Test func anIdleGPUHolderIsEvictedAndTheShareWaitsForItToBeGone() {
        var n = NodeCapacity(memoryBudgetMB: 100_000, namespaceMaxInstances: 100, gpus: [GPUDevice(index: 0, memoryMB: 8192)])
        _ = n.reserve(a, namespace: "x", memoryMB: 128, gpuMemoryMB: 4096, now: .zero)
        _ = n.reserve(b, namespace: "x", memoryMB: 128, gpuMemoryMB: 4096, now: .seconds(1))
        n.markBusy(b, now: .seconds(2))
        n.markIdle(a, now: .seconds(1))
        // a is idle (it served a request): it is to go; b is busy and stays. The newcomer waits
        // until a is gone, so that GPU memory is never promised twice.
        let denial = NodeCapacity.Denial.gpu(neededMB: 4096, largestFreeMB: 0)
        #expect(n.reserve(c, namespace: "x", memoryMB: 128, gpuMemoryMB: 4096, now: .seconds(3)) == .wait(denial, evict: [a]))
        #expect(n.gpuPlacement(of: a)?.device == 0 && n.gpuPlacement(of: c) == nil && n.instanceCount == 2)
        n.release(a)  // the pool stopped it
        #expect(n.reserve(c, namespace: "x", memoryMB: 128, gpuMemoryMB: 4096, now: .seconds(4)) == .granted(evict: []))
        #expect(n.gpuPlacement(of: c)?.device == 0)
    }

    @Test func aFreshlyStartedHolderIsNotEvictedForGPURoom() {
        var n = NodeCapacity(memoryBudgetMB: 100_000, namespaceMaxInstances: 100, gpus: [GPUDevice(index: 0, memoryMB: 8192)])
        _ = n.reserve(a, namespace: "x", memoryMB: 128, gpuMemoryMB: 6000, now: .zero)  // starting: not busy yet, but not idle either
        #expect(n.reserve(b, namespace: "x", memoryMB: 128, gpuMemoryMB: 6000, now: .seconds(1)) == .denied(.gpu(neededMB: 6000, largestFreeMB: 2192)))
    }

    @Test func aGPUHolderEvictedForMemoryAndPutBackKeepsItsGPU() {
        var n = NodeCapacity(memoryBudgetMB: 256, namespaceMaxInstances: 100, gpus: [GPUDevice(index: 0, memoryMB: 4096), GPUDevice(index: 1, memoryMB: 4096)])
        _ = n.reserve(a, namespace: "x", memoryMB: 128, gpuMemoryMB: 1024, now: .zero)
        n.markIdle(a, now: .zero)
        _ = n.reserve(b, namespace: "x", memoryMB: 128, now: .seconds(1))
        n.markBusy(b, now: .seconds(1))
        // c needs memory: a (idle) is evicted for it; c's share is placed while a's is still counted.
        #expect(n.reserve(c, namespace: "x", memoryMB: 128, gpuMemoryMB: 3500, now: .seconds(2)) == .granted(evict: [a]))
        #expect(n.gpuPlacement(of: c)?.device == 1)
        // The pool refused to stop a (it turned busy): a goes back on GPU 0, where it runs.
        let restored = n.restore(a, namespace: "x", memoryMB: 128, gpuMemoryMB: 1024, now: .seconds(3))
        #expect(restored)
        #expect(n.gpuPlacement(of: a) == .init(device: 0, memoryMB: 1024))
    }

    @Test func idleInstancesWithoutSharesAreNotEvictedForGPURoom() {
        var n = NodeCapacity(memoryBudgetMB: 100_000, namespaceMaxInstances: 100, gpus: [GPUDevice(index: 0, memoryMB: 4096)])
        _ = n.reserve(a, namespace: "x", memoryMB: 128, now: .zero)  // idle, no share
        _ = n.reserve(b, namespace: "x", memoryMB: 128, gpuMemoryMB: 4096, now: .zero)
        n.markBusy(b, now: .seconds(1))
        #expect(n.reserve(c, namespace: "x", memoryMB: 128, gpuMemoryMB: 1, now: .seconds(2)) == .denied(.gpu(neededMB: 1, largestFreeMB: 0)))
        #expect(n.instanceCount == 2)
    }

    @Test func aNodeWithoutGPUsQueuesEveryShare() {
        var n = NodeCapacity(memoryBudgetMB: 100_000, namespaceMaxInstances: 100)
        #expect(n.reserve(a, namespace: "x", memoryMB: 128, gpuMemoryMB: 1024, now: .zero) == .denied(.gpu(neededMB: 1024, largestFreeMB: 0)))
        #expect(n.instanceCount == 0)
    }
}
