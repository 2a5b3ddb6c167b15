using System.Buffers.Binary;
using System.Globalization;
using System.IO.Pipelines;
using System.Text;
using Microsoft.AspNetCore.Http.Features;

namespace Chat.Gateway.Proxy;

/// <summary>
/// Lets a gRPC or gRPC-Web call whose replica dies after the response started end with a gRPC status instead of a
/// broken stream. YARP, when the destination's side of a started body breaks, resets the HTTP/2 stream (the client
/// then reads CANCELLED or INTERNAL, as if it had hung up or the gateway had failed) or, on HTTP/1.1, aborts the
/// connection (gRPC-Web). This tracker stands in for the call's <see cref="IHttpResetFeature"/> and response body: it
/// follows the length-prefixed message frames written to the client and holds YARP's reset back, so that the proxy
/// middleware can close the call properly — trailers <c>grpc-status: 14</c> (native) or a gRPC-Web trailer frame —
/// when the client has whole messages only. Halfway through a message a status cannot be appended (the client would
/// read it as message bytes), so the reset or abort goes ahead as YARP asked.
/// </summary>
internal sealed class GrpcResponseTracker : IHttpResponseBodyFeature, IHttpResetFeature
{
    private const int FrameHeaderLength = 5;
    private const byte TrailerFlag = 0x80;

    private readonly HttpContext _context;
    private readonly IHttpResponseBodyFeature _inner;
    private readonly IHttpResetFeature? _innerReset;
    private readonly FrameCountingStream _stream;
    private PipeWriter? _writer;

    private GrpcResponseTracker(HttpContext context, IHttpResponseBodyFeature inner, IHttpResetFeature? innerReset, bool grpcWeb)
    {
        _context = context;
        _inner = inner;
        _innerReset = innerReset;
        _stream = new FrameCountingStream(inner.Stream);
        IsGrpcWeb = grpcWeb;
    }

    /// <summary>Installs the tracker on a gRPC call the gateway can close with a status (native, or binary gRPC-Web); null otherwise.</summary>
    public static GrpcResponseTracker? Install(HttpContext context)
    {
        var request = context.Request;
        if (!GatewayRejection.IsGrpc(request)
            || request.ContentType!.StartsWith("application/grpc-web-text", StringComparison.OrdinalIgnoreCase)
            || context.Features.Get<IHttpResponseBodyFeature>() is not { } body)
        {
            // gRPC-Web text is base64 across the whole body: its frames cannot be followed without decoding it.
            return null;
        }

        var grpcWeb = GatewayRejection.IsGrpcWeb(request);
        if (!grpcWeb && !context.Response.SupportsTrailers())
        {
            return null;
        }

        var tracker = new GrpcResponseTracker(context, body, context.Features.Get<IHttpResetFeature>(), grpcWeb);
        context.Features.Set<IHttpResponseBodyFeature>(tracker);
        context.Features.Set<IHttpResetFeature>(tracker);
        return tracker;
    }

    public bool IsGrpcWeb { get; }

    /// <summary>The HTTP/2 error code YARP asked to reset with, held back until the proxy pipeline has returned.</summary>
    public int? ResetRequested { get; private set; }

    /// <summary>Every message the client received is whole (no frame half-written).</summary>
    public bool AtMessageBoundary => _stream.AtMessageBoundary;

    /// <summary>A gRPC-Web trailer frame (the call's status) already went to the client.</summary>
    public bool StatusSent => _stream.TrailerFrameSeen;

    public Stream Stream => _stream;

    public PipeWriter Writer => _writer ??= PipeWriter.Create(_stream, new StreamPipeWriterOptions(leaveOpen: true));

    public void DisableBuffering() => _inner.DisableBuffering();

    public Task StartAsync(CancellationToken cancellationToken = default) => _inner.StartAsync(cancellationToken);

    public Task SendFileAsync(string path, long offset, long? count, CancellationToken cancellationToken = default) =>
        SendFileFallback.SendFileAsync(_stream, path, offset, count, cancellationToken);

    public async Task CompleteAsync()
    {
        if (_writer is not null)
        {
            await _writer.FlushAsync();
        }

        await _inner.CompleteAsync();
    }

    void IHttpResetFeature.Reset(int errorCode) => ResetRequested ??= errorCode;

    /// <summary>What YARP asked for after all: reset the HTTP/2 stream, or abort the HTTP/1.1 connection.</summary>
    public void ResetNow()
    {
        var code = ResetRequested ?? 2; // INTERNAL_ERROR
        if (_innerReset is not null)
        {
            _innerReset.Reset(code);
        }
        else
        {
            _context.Abort();
        }
    }

    /// <summary>
    /// Ends the started call with a status: HTTP/2 trailers (with <c>retry-after</c>), or a gRPC-Web trailer frame at
    /// the end of the body.
    /// </summary>
    public async Task WriteStatusAsync(GrpcStatus status, string message, string? retryAfterSeconds)
    {
        var code = ((int)status).ToString(CultureInfo.InvariantCulture);
        var encoded = Uri.EscapeDataString(message);
        if (!IsGrpcWeb)
        {
            _context.Response.AppendTrailer("grpc-status", code);
            _context.Response.AppendTrailer("grpc-message", encoded);
            if (retryAfterSeconds is not null)
            {
                _context.Response.AppendTrailer("retry-after", retryAfterSeconds);
            }

            return;
        }

        // PROTOCOL-WEB: trailers are the body's last frame, flag 0x80, an HTTP/1 header block with lower-case names.
        // No retry-after here: .NET's gRPC-Web client files trailer-frame entries as HTTP trailers, which may not
        // carry Retry-After, and fails the call with INTERNAL on it.
        var block = $"grpc-status:{code}\r\ngrpc-message:{encoded}\r\n";
        var payload = Encoding.ASCII.GetBytes(block);
        var frame = new byte[FrameHeaderLength + payload.Length];
        frame[0] = TrailerFlag;
        BinaryPrimitives.WriteUInt32BigEndian(frame.AsSpan(1), (uint)payload.Length);
        payload.CopyTo(frame, FrameHeaderLength);
        await _stream.WriteAsync(frame);
        await _stream.FlushAsync();
    }

    /// <summary>Passes writes through and follows the 5-byte frame headers (flags, big-endian length) between payloads.</summary>
    private sealed class FrameCountingStream(Stream inner) : Stream
    {
        private readonly byte[] _header = new byte[FrameHeaderLength];
        private int _headerFilled;
        private long _payloadRemaining;

        public bool AtMessageBoundary => _headerFilled == 0 && _payloadRemaining == 0;

        public bool TrailerFrameSeen { get; private set; }

        public override bool CanRead => false;

        public override bool CanSeek => false;

        public override bool CanWrite => true;

        public override long Length => throw new NotSupportedException();

        public override long Position
        {
            get => throw new NotSupportedException();
            set => throw new NotSupportedException();
        }

        public override async ValueTask WriteAsync(ReadOnlyMemory<byte> buffer, CancellationToken cancellationToken = default)
        {
            await inner.WriteAsync(buffer, cancellationToken);
            Track(buffer.Span);
        }

        public override Task WriteAsync(byte[] buffer, int offset, int count, CancellationToken cancellationToken) =>
            WriteAsync(buffer.AsMemory(offset, count), cancellationToken).AsTask();

        public override void Write(byte[] buffer, int offset, int count)
        {
            inner.Write(buffer, offset, count);
            Track(buffer.AsSpan(offset, count));
        }

        public override Task FlushAsync(CancellationToken cancellationToken) => inner.FlushAsync(cancellationToken);

        public override void Flush() => inner.Flush();

        public override int Read(byte[] buffer, int offset, int count) => throw new NotSupportedException();

        public override long Seek(long offset, SeekOrigin origin) => throw new NotSupportedException();

        public override void SetLength(long value) => throw new NotSupportedException();

        private void Track(ReadOnlySpan<byte> written)
        {
            while (!written.IsEmpty)
            {
                if (_payloadRemaining > 0)
                {
                    var skipped = (int)Math.Min(_payloadRemaining, written.Length);
                    _payloadRemaining -= skipped;
                    written = written[skipped..];
                    continue;
                }

                var copied = Math.Min(FrameHeaderLength - _headerFilled, written.Length);
                written[..copied].CopyTo(_header.AsSpan(_headerFilled));
                _headerFilled += copied;
                written = written[copied..];
                if (_headerFilled == FrameHeaderLength)
                {
                    _headerFilled = 0;
                    TrailerFrameSeen |= (_header[0] & TrailerFlag) != 0;
                    _payloadRemaining = BinaryPrimitives.ReadUInt32BigEndian(_header.AsSpan(1));
                }
            }
        }
    }
}
