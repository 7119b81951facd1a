/// How a function's URL (HTTP trigger) is guarded.
public enum URLAuth: String, Sendable, Codable, Hashable {
    /// Anyone may call it.
    case none
    /// A bearer key of the function's namespace is required.
    case key
}

/// A function's URL at `/fn/NAMESPACE/NAME/...`.
public struct URLConfig: Sendable, Codable, Hashable {
    public var auth: URLAuth
    /// The qualifier the URL invokes: `$LATEST` or an alias name.
    public var qualifier: String

    public init(auth: URLAuth, qualifier: String = "$LATEST") {
        self.auth = auth
        self.qualifier = qualifier
    }
}

/// A function's share of one GPU's memory (`gpu: {memory: 4096}`): each instance is placed on
/// a GPU of the node with that much free, and sees that GPU only.
public struct GPUShare: Sendable, Codable, Hashable {
    public static let memoryRange = 1...1_048_576
    /// MiB of GPU memory per instance.
    public var memory: Int

    public init(memory: Int) {
        self.memory = memory
    }
}

/// The complete, validated configuration of one function version.
public struct FunctionConfig: Sendable, Codable, Hashable {
    public static let memoryRange = 128...10240
    public static let timeoutRange = 1...900
    public static let concurrencyRange = 1...1000
    public static let maxEnvironmentBytes = 4096
    public static let maxDescriptionLength = 256

    public var runtime: RuntimeKind
    public var handler: String
    public var codeSha256: String
    public var codeSize: Int
    /// Memory in MB.
    public var memory: Int
    /// Timeout in seconds.
    public var timeout: Int
    /// Requests in flight per instance.
    public var concurrency: Int
    public var environment: [String: String]
    public var description: String
    public var url: URLConfig?
    public var scaling: ScalingConfig
    public var async: AsyncConfig
    /// Event sources bound to the function (not versioned, like `url`).
    public var triggers: [TriggerConfig]
    /// A share of one GPU per instance (nil: no GPU).
    public var gpu: GPUShare?
    /// Layer versions extracted under `/opt`, in order (resolved: each with its digest).
    public var layers: [LayerRef] = []

    public init(
        runtime: RuntimeKind, handler: String, codeSha256: String, codeSize: Int = 0,
        memory: Int = 128, timeout: Int = 3, concurrency: Int = 1,
        environment: [String: String] = [:], description: String = "", url: URLConfig? = nil,
        scaling: ScalingConfig = ScalingConfig(), async: AsyncConfig = AsyncConfig(), triggers: [TriggerConfig] = [],
        gpu: GPUShare? = nil,
        layers: [LayerRef] = []
    ) {
        self.gpu = gpu
        self.layers = layers
        self.triggers = triggers
        self.scaling = scaling
        self.async = async
        self.runtime = runtime
        self.handler = handler
        self.codeSha256 = codeSha256
        self.codeSize = codeSize
        self.memory = memory
        self.timeout = timeout
        self.concurrency = concurrency
        self.environment = environment
        self.description = description
        self.url = url
    }

    /// The names of the fields that differ between two configurations, as the manifest names them.
    public func changedFields(from old: FunctionConfig) -> [String] {
        var fields: [String] = []
        if runtime != old.runtime { fields.append("runtime") }
        if handler != old.handler { fields.append("handler") }
        if codeSha256 != old.codeSha256 { fields.append("code") }
        if memory != old.memory { fields.append("memory") }
        if timeout != old.timeout { fields.append("timeout") }
        if concurrency != old.concurrency { fields.append("concurrency") }
        if environment != old.environment { fields.append("environment") }
        if description != old.description { fields.append("description") }
        if url != old.url { fields.append("url") }
        if scaling != old.scaling { fields.append("scaling") }
        if async != old.async { fields.append("async") }
        if triggers != old.triggers { fields.append("triggers") }
        if gpu != old.gpu { fields.append("gpu") }
        if layers != old.layers { fields.append("layers") }
        return fields
    }

    enum CodingKeys: String, CodingKey {
        case runtime, handler, codeSha256, codeSize, memory, timeout, concurrency, environment, description, url, scaling, async, triggers, gpu, layers
    }

    /// Decodes stored configurations, including those written before `scaling` and `async` existed.
    public init(from decoder: any Decoder) throws {
        let c = try decoder.container(keyedBy: CodingKeys.self)
        runtime = try c.decode(RuntimeKind.self, forKey: .runtime)
        handler = try c.decode(String.self, forKey: .handler)
        codeSha256 = try c.decode(String.self, forKey: .codeSha256)
        codeSize = try c.decodeIfPresent(Int.self, forKey: .codeSize) ?? 0
        memory = try c.decode(Int.self, forKey: .memory)
        timeout = try c.decode(Int.self, forKey: .timeout)
        concurrency = try c.decode(Int.self, forKey: .concurrency)
        environment = try c.decodeIfPresent([String: String].self, forKey: .environment) ?? [:]
        description = try c.decodeIfPresent(String.self, forKey: .description) ?? ""
        url = try c.decodeIfPresent(URLConfig.self, forKey: .url)
        scaling = try c.decodeIfPresent(ScalingConfig.self, forKey: .scaling) ?? ScalingConfig()
        async = try c.decodeIfPresent(AsyncConfig.self, forKey: .async) ?? AsyncConfig()
        triggers = try c.decodeIfPresent([TriggerConfig].self, forKey: .triggers) ?? []
        gpu = try c.decodeIfPresent(GPUShare.self, forKey: .gpu)
        layers = try c.decodeIfPresent([LayerRef].self, forKey: .layers) ?? []
    }

    /// The part of the configuration that a published version freezes (the URL and triggers are not part of it).
    public var versioned: FunctionConfig {
        var c = self
        c.url = nil
        c.triggers = []
        return c
    }
}
