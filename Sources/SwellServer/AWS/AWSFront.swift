import Foundation
import Hummingbird
import NIOPosix
import SwellInvoker
import SwellModel
import SwellStore
import SwellTasks

/// The AWS-compatible front: the Lambda API on its own paths of the Swell listener (SigV4
/// only), and `POST /v1/namespaces/{ns}/keys/{id}/aws`, which issues an access key bound to
/// a Swell key (what `swell keys create --aws` calls).
struct AWSFront {
    let keys: any AWSKeyStorage
    let lambda: LambdaRoutes
    /// The Step Functions API (`POST /`, `X-Amz-Target: AWSStepFunctions.*`), when workflows run.
    var stepFunctions: StepFunctionsRoutes? = nil

    func register(on router: Router<SwellRequestContext>, v1: RouterGroup<SwellRequestContext>) {
        lambda.register(on: router, keys: keys)
        stepFunctions?.register(on: router, catalog: lambda.catalog, keys: keys)
        v1.post("namespaces/:ns/keys/:id/aws") { _, ctx in
            let ns = try namespace(ctx)
            _ = try ctx.authorize(ns, .admin)
            let id = ctx.parameters.get("id") ?? ""
            guard let key = lambda.catalog.key(id: id), key.namespace == ns else {
                throw SwellError.notFound("no active key \(id) in namespace \(ns)")
            }
            let (accessKeyID, secret) = try await keys.createAccessKey(keyID: id, namespace: ns)
            struct Issued: Encodable {
                var keyId: String
                var namespace: String
                var role: String
                var accessKeyId: String
                var secretAccessKey: String
            }
            return try JSONBody.response(
                Issued(keyId: id, namespace: ns, role: key.role.rawValue, accessKeyId: accessKeyID, secretAccessKey: secret), status: .created)
        }
    }
}
