using Microsoft.AspNetCore.Http;
using Microsoft.AspNetCore.Http.Features;

namespace Chat.Transports.Shared.Streaming;

public static class StreamingResponse
{
    /// <summary>
    /// Prepares a response whose every event must leave at once: the content type, no caching, no proxy buffering
    /// (X-Accel-Buffering for nginx), and no server-side buffering (so each FlushAsync reaches the socket).
    /// </summary>
    public static void StartStreaming(this HttpResponse response, string contentType)
    {
        response.ContentType = contentType;
        response.Headers.CacheControl = "no-cache";
        response.Headers["X-Accel-Buffering"] = "no";
        response.HttpContext.Features.Get<IHttpResponseBodyFeature>()?.DisableBuffering();
    }
}
