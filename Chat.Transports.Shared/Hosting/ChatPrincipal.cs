using Microsoft.AspNetCore.Http;

namespace Chat.Transports.Shared.Hosting;

/// <summary>The caller as the gateway authenticated it (it sets the header and strips any inbound copy).</summary>
public static class ChatPrincipal
{
    public const string HeaderName = "X-Chat-Principal";

    /// <summary>The value every chat.llm.v1 request carries as <c>principal</c>; empty means anonymous.</summary>
    public static string GetChatPrincipal(this HttpContext context) =>
        context.Request.Headers[HeaderName].ToString();
}
