import Foundation
import HTTPTypes
import Hummingbird
import NIOCore
import SwellModel

extension HTTPField.Name {
    static let amznErrorType = HTTPField.Name("X-Amzn-ErrorType")!
    static let amznRequestID = HTTPField.Name("X-Amzn-RequestId")!
}

/// An error in the shape AWS's REST-JSON services answer with: the error code in
/// `X-Amzn-ErrorType` and `{"Type": "User", "message": …}` as the body, which is what the
/// SDKs turn into exception classes (boto3's `ResourceNotFoundException`, …).
struct AWSError: Error, HTTPResponseError, CustomStringConvertible {
    /// The error codes Swell answers with, as the Lambda API reference names them.
    enum Code: String, Sendable {
        case resourceNotFound = "ResourceNotFoundException"
        case resourceConflict = "ResourceConflictException"
        case invalidParameterValue = "InvalidParameterValueException"
        case invalidRequestContent = "InvalidRequestContentException"
        case tooManyRequests = "TooManyRequestsException"
        case requestTooLarge = "RequestTooLargeException"
        case accessDenied = "AccessDeniedException"
        case service = "ServiceException"
        case unknownOperation = "UnknownOperationException"
        case preconditionFailed = "PreconditionFailedException"
        case missingAuthenticationToken = "MissingAuthenticationTokenException"
        case incompleteSignature = "IncompleteSignatureException"
        case invalidSignature = "InvalidSignatureException"
        case unrecognizedClient = "UnrecognizedClientException"
    }

    var code: String
    var httpStatus: Int
    var message: String
    var retryAfter: Int?
    /// Extra body fields some errors carry (`Reason` of `TooManyRequestsException`).
    var reason: String?

    init(_ code: Code, _ status: Int, _ message: String, retryAfter: Int? = nil, reason: String? = nil) {
        self.code = code.rawValue
        self.httpStatus = status
        self.message = message
        self.retryAfter = retryAfter
        self.reason = reason
    }

    init(_ failure: SigV4.Failure) {
        self.code = failure.code
        self.httpStatus = failure.httpStatus
        self.message = failure.description
    }

    /// Swell's own errors, translated to the codes the Lambda API documents for them.
    init(_ error: SwellError) {
        switch error.code {
        case .notFound: self.init(.resourceNotFound, 404, error.description)
        case .conflict: self.init(.resourceConflict, 409, error.description)
        case .invalidField, .invalidRequest: self.init(.invalidParameterValue, 400, error.description)
        case .invalidJSON: self.init(.invalidRequestContent, 400, error.description)
        case .unauthorized, .forbidden: self.init(.accessDenied, 403, error.description)
        case .payloadTooLarge: self.init(.requestTooLarge, 413, error.description)
        case .throttled:
            self.init(.tooManyRequests, 429, error.description, retryAfter: error.retryAfter ?? 1, reason: "ConcurrentInvocationLimitExceeded")
        case .internal: self.init(.service, 500, error.description)
        }
    }

    static func notFound(_ message: String) -> AWSError { AWSError(.resourceNotFound, 404, message) }
    static func invalid(_ message: String) -> AWSError { AWSError(.invalidParameterValue, 400, message) }
    static func conflict(_ message: String) -> AWSError { AWSError(.resourceConflict, 409, message) }

    var status: HTTPResponse.Status { HTTPResponse.Status(code: httpStatus) }
    var description: String { "\(code): \(message)" }

    func response(from request: Request, context: some RequestContext) throws -> Response {
        var headers = HTTPFields()
        headers[.contentType] = "application/json"
        headers[.amznErrorType] = code
        if let retryAfter { headers[.retryAfter] = String(retryAfter) }
        var body: [String: String] = ["Type": httpStatus >= 500 ? "Service" : "User", "message": message]
        if let reason { body["Reason"] = reason }
        // The JSON 1.0 services (Step Functions) carry the code in the body.
        body["__type"] = code
        let data = (try? JSONSerialization.data(withJSONObject: body, options: [.sortedKeys, .withoutEscapingSlashes])) ?? Data()
        return Response(status: status, headers: headers, body: .init(byteBuffer: ByteBuffer(data: data)))
    }
}
