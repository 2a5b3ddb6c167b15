using System.ComponentModel.DataAnnotations;

namespace Chat.Llm.Service.Models;

/// <summary>The <c>Llm</c> configuration section (docs/conventions.md and docs/llm-service.md name every key).</summary>
public sealed class LlmOptions
{
    public const string SectionName = "Llm";

    /// <summary><c>offline</c>, <c>gemini</c> or <c>openai</c>; empty picks gemini when an API key is set, else offline.</summary>
    [RegularExpression("^(|offline|gemini|openai)$", ErrorMessage = "Llm:Provider must be offline, gemini or openai")]
    public string Provider { get; set; } = "";

    /// <summary>
    /// The longest the model may stay silent while a reply is owed (before the first token and between tokens); past
    /// it the turn fails with DEADLINE_EXCEEDED and the model call is aborted, so a hung model never holds a client.
    /// </summary>
    [Range(typeof(TimeSpan), "00:00:01", "01:00:00")]
    public TimeSpan ModelIdleTimeout { get; set; } = TimeSpan.FromMinutes(2);

    /// <summary>Records message content on gen_ai spans (off by default: conversations are personal data).</summary>
    public bool EnableSensitiveTelemetry { get; set; }

    [Required]
    public OfflineModelOptions Offline { get; set; } = new();

    [Required]
    public GeminiOptions Gemini { get; set; } = new();

    [Required]
    public OpenAIOptions OpenAI { get; set; } = new();

    [Required]
    public SessionLimitsOptions Sessions { get; set; } = new();

    [Required]
    public ResumeOptions Resume { get; set; } = new();
}

public sealed class OfflineModelOptions
{
    [Range(0, 60_000)]
    public int TimeToFirstTokenMs { get; set; } = 200;

    [Range(0, 60_000)]
    public int InterTokenDelayMs { get; set; } = 30;

    /// <summary>Forces replies of exactly this many tokens (benchmarks); 0 = the natural reply.</summary>
    [Range(0, 1_000_000)]
    public int ReplyTokens { get; set; }

    [Required]
    public string ModelId { get; set; } = "offline-echo-1";
}

public sealed class GeminiOptions
{
    /// <summary>Bound from <c>GEMINI_API_KEY</c> / <c>GOOGLE_API_KEY</c> unless set here.</summary>
    public string? ApiKey { get; set; }

    [Required, Url]
    public string BaseUrl { get; set; } = "https://generativelanguage.googleapis.com";

    /// <summary>Bound from <c>GENAI_MODEL_ID</c> unless set here.</summary>
    [Required]
    public string ModelId { get; set; } = "gemini-2.0-flash";

    /// <summary>How often a 429/503 is retried (honouring RetryInfo.retryDelay) before it reaches the caller.</summary>
    [Range(0, 10)]
    public int MaxRetries { get; set; } = 2;

    /// <summary>The longest retry delay honoured; a longer RetryInfo surfaces RESOURCE_EXHAUSTED at once.</summary>
    [Range(0, 600)]
    public double MaxRetryDelaySeconds { get; set; } = 10;

    [Range(1, 3600)]
    public int TimeoutSeconds { get; set; } = 300;
}

public sealed class OpenAIOptions
{
    public string? ApiKey { get; set; }

    /// <summary>Any OpenAI-compatible endpoint (OpenAI, Azure OpenAI v1, Ollama, vLLM, Gemini's /v1beta/openai/).</summary>
    public string? BaseUrl { get; set; }

    [Required]
    public string ModelId { get; set; } = "gpt-4o-mini";
}

public sealed class SessionLimitsOptions
{
    /// <summary>A session with no activity for this long is removed by Redis (key TTL).</summary>
    [Range(typeof(TimeSpan), "00:00:00.100", "3650.00:00:00")]
    public TimeSpan IdleTimeout { get; set; } = TimeSpan.FromHours(24);

    /// <summary>The largest user message, in UTF-8 bytes.</summary>
    [Range(1, 16 * 1024 * 1024)]
    public int MaxMessageBytes { get; set; } = 32 * 1024;

    /// <summary>The most history messages sent to the model with a turn (oldest turns dropped first).</summary>
    [Range(0, 100_000)]
    public int MaxContextMessages { get; set; } = 100;

    /// <summary>The most history characters sent to the model with a turn (oldest turns dropped first).</summary>
    [Range(0, 100_000_000)]
    public int MaxContextCharacters { get; set; } = 200_000;

    /// <summary>
    /// The lease of the per-session turn lock. The replica running the turn renews it (every third of the lease), so a
    /// turn may run for as long as it streams; a replica that dies stops renewing and the session is free again after
    /// at most this long.
    /// </summary>
    [Range(typeof(TimeSpan), "00:00:01", "1.00:00:00")]
    public TimeSpan TurnLockTimeout { get; set; } = TimeSpan.FromSeconds(15);

    /// <summary>Prefix of every Redis key and channel, so several deployments (or tests) can share one Redis.</summary>
    [Required(AllowEmptyStrings = true)]
    public string KeyPrefix { get; set; } = "chat:";
}

public sealed class ResumeOptions
{
    /// <summary>How long a turn's events stay in Redis for ResumeTurn.</summary>
    [Range(typeof(TimeSpan), "00:00:01", "1.00:00:00")]
    public TimeSpan BufferTtl { get; set; } = TimeSpan.FromMinutes(10);

    /// <summary>
    /// Events are written to Redis at most this often (one pipelined RPUSH + PUBLISH per batch, never one per token).
    /// The caller, and any resumer on the turn's own replica (<see cref="Turns.LocalTurnFeed"/>), get every event at
    /// once; only a resumer on another replica sees the live tail in batches this far apart, and a crash of the turn's
    /// replica loses at most this much of a reply that is lost anyway.
    /// </summary>
    [Range(1, 10_000)]
    public int FlushIntervalMs { get; set; } = 200;

    [Range(1, 100_000)]
    public int MaxBatchEvents { get; set; } = 64;

    /// <summary>
    /// Events a turn's buffer keeps (Redis and the in-memory feed alike); past it the oldest are dropped and a resume
    /// from before them says <c>trimmed</c>. Bounds memory for very long replies.
    /// </summary>
    [Range(1, 10_000_000)]
    public int MaxBufferedEvents { get; set; } = 10_000;

    /// <summary>A resumed stream that hears nothing from its turn for this long gives up (the turn's replica died).</summary>
    [Range(typeof(TimeSpan), "00:00:01", "1.00:00:00")]
    public TimeSpan SilenceTimeout { get; set; } = TimeSpan.FromMinutes(5);
}
