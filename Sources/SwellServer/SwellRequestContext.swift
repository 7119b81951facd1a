import Hummingbird
import NIOCore
import SwellModel

/// The request context of every Swell route: who is calling (after authentication) and
/// from where.
public struct SwellRequestContext: RequestContext {
    public var coreContext: CoreRequestContextStorage
    /// Set by `AuthMiddleware` on `/v1` routes.
    public var principal: Principal?
    public let remoteAddress: SocketAddress?

    public init(source: ApplicationRequestContextSource) {
        self.coreContext = .init(source: source)
        self.remoteAddress = source.channel.remoteAddress
    }

    /// Bodies are collected by each route with its own limit; this is the outer bound
    /// (code packages are the largest uploads).
    public var maxUploadSize: Int { Limits.maxCodeBytes }

    /// The authenticated caller.
    func requirePrincipal() throws(SwellError) -> Principal {
        guard let principal else { throw SwellError(.unauthorized, "missing or invalid API key (Authorization: Bearer KEY)") }
        return principal
    }

    /// The caller, checked against a namespace and a role.
    func authorize(_ namespace: String, _ role: Role) throws(SwellError) -> Principal {
        let p = try requirePrincipal()
        try p.authorize(namespace: namespace, role: role)
        return p
    }
}
