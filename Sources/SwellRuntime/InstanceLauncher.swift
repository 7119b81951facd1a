import Foundation
import SwellModel

/// Builds the process an instance runs: the runtime's executable and the exact environment
/// of the Lambda Runtime API contract. Nothing of Swell's own environment is inherited.
enum InstanceLauncher {
    static func spawnRequest(
        config: FunctionConfig, key: FunctionKey, instance: InstanceInfo, codeDirectory: String,
        runtimeAPI: String, tempDirectory: String, runtime: RuntimeConfiguration
    ) throws -> SpawnRequest {
        var env = environment(
            config: config, key: key, instance: instance, codeDirectory: codeDirectory, runtimeAPI: runtimeAPI,
            tempDirectory: tempDirectory, runtime: runtime)
        var request = try runtimeRequest(config: config, env: &env, codeDirectory: codeDirectory, runtime: runtime)
        // Layers: their merged tree is the instance's /opt (a mount namespace of its own, as root).
        if let tree = layerTree(config: config, codeDirectory: codeDirectory), geteuid() == 0 {
            request.optDirectory = tree
        }
        return request
    }

    /// The merged tree of the function's layers (next to its code), or nil without layers.
    static func layerTree(config: FunctionConfig, codeDirectory: String) -> String? {
        LayerRef.treeName(config.layers).map { "\((codeDirectory as NSString).deletingLastPathComponent)/\($0)" }
    }

    /// Where instances see the layers: `/opt` as root (bind-mounted), else the tree itself.
    static func optPath(config: FunctionConfig, codeDirectory: String) -> String? {
        guard let tree = layerTree(config: config, codeDirectory: codeDirectory) else { return nil }
        return geteuid() == 0 ? "/opt" : tree
    }

    static func runtimeRequest(
        config: FunctionConfig, env: inout [String: String], codeDirectory: String, runtime: RuntimeConfiguration
    ) throws -> SpawnRequest {
        switch config.runtime {
        case .nodejs20:
            let heap = max(64, config.memory * 85 / 100)
            return SpawnRequest(
                executable: runtime.nodeExecutable,
                arguments: ["--max-old-space-size=\(heap)", "\(runtime.bootstrapDirectory)/nodejs/bootstrap.js"],
                environment: env, workingDirectory: codeDirectory)
        case .python3:
            env["PYTHONUNBUFFERED"] = "1"
            return SpawnRequest(
                executable: runtime.pythonExecutable,
                arguments: ["-u", "\(runtime.bootstrapDirectory)/python/bootstrap.py"],
                environment: env, workingDirectory: codeDirectory)
        case .provided:
            // As on Lambda: the package's `bootstrap` runs, with the handler in `_HANDLER`, else a
            // layer's (`/opt/bootstrap`). A package without either runs the executable the
            // handler names (Swell's own form).
            let bootstrap = "\(codeDirectory)/bootstrap"
            let path = FileManager.default.isExecutableFile(atPath: bootstrap) ? bootstrap : "\(codeDirectory)/\(config.handler)"
            if FileManager.default.isExecutableFile(atPath: path) {
                return SpawnRequest(executable: path, arguments: [], environment: env, workingDirectory: codeDirectory)
            }
            // The layer's bootstrap, checked in the merged tree and run as the instance sees it.
            guard let tree = layerTree(config: config, codeDirectory: codeDirectory), FileManager.default.isExecutableFile(atPath: "\(tree)/bootstrap"),
                let opt = optPath(config: config, codeDirectory: codeDirectory)
            else {
                throw LaunchError.entrypointMissing(config.handler)
            }
            return SpawnRequest(executable: "\(opt)/bootstrap", arguments: [], environment: env, workingDirectory: codeDirectory)
        }
    }

    /// A generic runtime process for the warm pool: the bootstrap in prewarm mode, with no
    /// function environment yet (it arrives on stdin at specialization).
    static func prebootRequest(_ kind: RuntimeKind, runtime: RuntimeConfiguration) -> SpawnRequest {
        let env = [
            "SWELL_PREWARM": "1", "PATH": "/usr/local/bin:/usr/bin:/bin", "LANG": "en_US.UTF-8", "TZ": ":UTC",
            "HOME": runtime.instancesDirectory, "PYTHONDONTWRITEBYTECODE": "1", "PYTHONUNBUFFERED": "1",
        ]
        switch kind {
        case .python3:
            return SpawnRequest(
                executable: runtime.pythonExecutable, arguments: ["-u", "\(runtime.bootstrapDirectory)/python/bootstrap.py"],
                environment: env, workingDirectory: runtime.instancesDirectory)
        default:
            return SpawnRequest(
                executable: runtime.nodeExecutable, arguments: ["\(runtime.bootstrapDirectory)/nodejs/bootstrap.js"],
                environment: env, workingDirectory: runtime.instancesDirectory)
        }
    }

    /// The whole environment of an instance, per the Lambda Runtime API contract.
    static func environment(
        config: FunctionConfig, key: FunctionKey, instance: InstanceInfo, codeDirectory: String,
        runtimeAPI: String, tempDirectory: String, runtime: RuntimeConfiguration
    ) -> [String: String] {
        var env: [String: String] = config.environment
        env["AWS_LAMBDA_RUNTIME_API"] = runtimeAPI
        env["_HANDLER"] = config.handler
        env["LAMBDA_TASK_ROOT"] = codeDirectory
        env["LAMBDA_RUNTIME_DIR"] = runtime.bootstrapDirectory
        env["AWS_LAMBDA_FUNCTION_NAME"] = key.name
        env["AWS_LAMBDA_FUNCTION_VERSION"] = key.version.description
        env["AWS_LAMBDA_FUNCTION_MEMORY_SIZE"] = String(config.memory)
        env["AWS_LAMBDA_LOG_GROUP_NAME"] = "/swell/\(key.namespace)/\(key.name)"
        env["AWS_LAMBDA_LOG_STREAM_NAME"] = instance.name
        env["AWS_LAMBDA_INITIALIZATION_TYPE"] = "on-demand"
        env["AWS_REGION"] = "swell-local"
        env["AWS_DEFAULT_REGION"] = "swell-local"
        env["AWS_EXECUTION_ENV"] = config.runtime.executionEnvironment
        env["TZ"] = ":UTC"
        env["LANG"] = "en_US.UTF-8"
        env["PATH"] = "/usr/local/bin:/usr/bin:/bin"
        env["HOME"] = tempDirectory
        env["TMPDIR"] = tempDirectory
        env["SWELL_CONCURRENCY"] = String(config.concurrency)
        env["AWS_LAMBDA_MAX_CONCURRENCY"] = String(config.concurrency)
        env["SWELL_NAMESPACE"] = key.namespace
        if let device = instance.gpuDevice {
            // The instance sees only its GPU (as device 0 inside) and is told its share of the memory.
            env["CUDA_VISIBLE_DEVICES"] = String(device)
            env["SWELL_GPU_MEMORY_MB"] = String(instance.gpuMemoryMB)
        }
        let opt = optPath(config: config, codeDirectory: codeDirectory)
        switch config.runtime {
        case .nodejs20:
            // Lambda's module path: the layers' node_modules, then the function's own.
            env["NODE_PATH"] = (opt.map { ["\($0)/nodejs/node20/node_modules", "\($0)/nodejs/node_modules"] } ?? [])
                .appending("\(codeDirectory)/node_modules").joined(separator: ":")
        case .python3:
            env["PYTHONDONTWRITEBYTECODE"] = "1"
            if let opt { env["PYTHONPATH"] = "\(opt)/python/lib/python3.11/site-packages:\(opt)/python" }
        case .provided: break
        }
        return env
    }

    enum LaunchError: Error, CustomStringConvertible {
        case entrypointMissing(String)

        var description: String {
            switch self {
            case .entrypointMissing(let h): "Runtime.InvalidEntrypoint: the code has no executable file \"\(h)\""
            }
        }
    }
}

extension Array {
    fileprivate func appending(_ element: Element) -> [Element] { self + [element] }
}
