import Hummingbird
import NIOCore

/// The request context of the gateway: Hummingbird's core context plus the request's channel,
/// from which the verified client certificate is read.
package struct GatewayRequestContext: RequestContext {
    package var coreContext: CoreRequestContextStorage
    /// The connection (or, over HTTP/2, the stream) the request arrived on.
    package let channel: any Channel

    package init(source: ApplicationRequestContextSource) {
        self.coreContext = .init(source: source)
        self.channel = source.channel
    }
}
