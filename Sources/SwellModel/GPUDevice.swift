/// One GPU a node declares (`swell serve --gpu 0:16384`): its CUDA index and memory.
public struct GPUDevice: Sendable, Hashable, CustomStringConvertible {
    /// The index CUDA numbers it by (what `CUDA_VISIBLE_DEVICES` names).
    public var index: Int
    /// Its memory in MiB.
    public var memoryMB: Int

    public init(index: Int, memoryMB: Int) {
        self.index = index
        self.memoryMB = memoryMB
    }

    public var description: String { "\(index):\(memoryMB)" }

    /// Why a `--gpu` list was refused.
    public struct ParseError: Error, Sendable, Hashable, CustomStringConvertible {
        public var message: String
        public var description: String { message }
    }

    /// Reads `INDEX:MIB[,INDEX:MIB...]`, e.g. `0:16384,1:16384`. Indexes are distinct
    /// integers 0...1023; memory is 1...16777216 MiB.
    public static func parseList(_ text: String) throws(ParseError) -> [GPUDevice] {
        var devices: [GPUDevice] = []
        for item in text.split(separator: ",", omittingEmptySubsequences: false) {
            let parts = item.split(separator: ":", omittingEmptySubsequences: false)
            guard parts.count == 2, let index = Int(parts[0]), let memory = Int(parts[1]) else {
                throw ParseError(message: "--gpu: \"\(item)\" is not INDEX:MIB (e.g. 0:16384)")
            }
            guard (0...1023).contains(index) else { throw ParseError(message: "--gpu: index \(index) is out of range (0...1023)") }
            guard (1...16_777_216).contains(memory) else {
                throw ParseError(message: "--gpu: memory of GPU \(index) must be between 1 and 16777216 MiB (got \(memory))")
            }
            guard !devices.contains(where: { $0.index == index }) else { throw ParseError(message: "--gpu: GPU \(index) is listed twice") }
            devices.append(GPUDevice(index: index, memoryMB: memory))
        }
        return devices
    }
}
