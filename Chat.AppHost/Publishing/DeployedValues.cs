using System.Globalization;
using System.Text;
using Aspire.Hosting.ApplicationModel;

namespace Chat.AppHost.Publishing;

/// <summary>One secret of the application: a secret parameter of the model, or a plain setting that looks like one.</summary>
/// <param name="Name">The parameter's name (gemini-api-key, llm-internal-key, redis-password).</param>
/// <param name="Optional">The services run without it (<see cref="OptionalSecretAnnotation"/>).</param>
internal sealed record SecretValue(string Name, bool Optional)
{
    public static SecretValue Of(ParameterResource parameter) =>
        new(parameter.Name, parameter.Annotations.OfType<OptionalSecretAnnotation>().Any());
}

/// <summary>Where a secret's value lives once published: never in a written file.</summary>
/// <param name="SecretName">The Kubernetes Secret (llm-secrets, llm-internal-key).</param>
/// <param name="Key">Its key (GEMINI_API_KEY, value).</param>
/// <param name="ShellVariable">The variable docker compose interpolates from the shell or a .env file.</param>
internal sealed record SecretSource(string SecretName, string Key, string ShellVariable, bool Optional);

internal abstract record ValuePart;

internal sealed record TextPart(string Text) : ValuePart;

internal sealed record SecretPart(SecretValue Secret) : ValuePart;

/// <summary>
/// An environment value as a cluster sees it: text, one secret, or text around secrets
/// ("redis:6379,password=" + the Redis password), which the publishers compose without ever knowing the secret.
/// </summary>
internal sealed class DeployedValue
{
    public DeployedValue(IEnumerable<ValuePart> parts)
    {
        var merged = new List<ValuePart>();
        foreach (var part in parts)
        {
            if (part is TextPart { Text.Length: 0 })
            {
                continue;
            }

            if (part is TextPart next && merged.Count > 0 && merged[^1] is TextPart previous)
            {
                merged[^1] = new TextPart(previous.Text + next.Text);
                continue;
            }

            merged.Add(part);
        }

        Parts = merged;
    }

    public IReadOnlyList<ValuePart> Parts { get; }

    public bool IsText => Parts.All(p => p is TextPart);

    /// <summary>The whole value, when <see cref="IsText"/>.</summary>
    public string Text => string.Concat(Parts.OfType<TextPart>().Select(p => p.Text));

    /// <summary>The secret, when the value is exactly one secret (GEMINI_API_KEY, Llm__InternalApiKey).</summary>
    public SecretValue? Secret => Parts is [SecretPart only] ? only.Secret : null;

    public IEnumerable<SecretValue> Secrets => Parts.OfType<SecretPart>().Select(p => p.Secret);

    public static DeployedValue Of(string text) => new([new TextPart(text)]);

    /// <summary>Text with each secret written by <paramref name="reference"/> ($(VAR) for Kubernetes, ${VAR} for Compose).</summary>
    public string Render(Func<string, string> escapeText, Func<SecretValue, string> reference)
    {
        var text = new StringBuilder();
        foreach (var part in Parts)
        {
            text.Append(part is TextPart literal ? escapeText(literal.Text) : reference(((SecretPart)part).Secret));
        }

        return text.ToString();
    }
}

/// <summary>A secret parameter used where its value has to be transformed (URI-encoded): no publisher can compose that.</summary>
internal sealed class UncomposableSecretException(string parameter, string format)
    : Exception($"it needs the {format}-formatted value of the secret parameter '{parameter}', which a Secret reference cannot express")
{
}

/// <summary>
/// Resolves the values Aspire's model gives an environment variable (strings, parameters, endpoint references,
/// connection strings, reference expressions) to what they are in the cluster: endpoints become Service DNS names
/// and the published port, secret parameters stay references, conditions are decided now.
/// </summary>
internal sealed class ModelValueResolver(IReadOnlyDictionary<(string Resource, string Endpoint), DeployedPort> ports, CancellationToken cancellationToken)
{
    public async Task<DeployedValue> ResolveAsync(object? value) => new(await PartsAsync(value, format: null));

    private async Task<IReadOnlyList<ValuePart>> PartsAsync(object? value, string? format)
    {
        switch (value)
        {
            case null:
                return [];
            case string text:
                return [new TextPart(Format(text, format))];
            case bool flag:
                return [new TextPart(Format(flag ? "true" : "false", format))];
            case IFormattable formattable:
                return [new TextPart(Format(formattable.ToString(null, CultureInfo.InvariantCulture), format))];
            case ParameterResource { Secret: true } secret:
                return format is null ? [new SecretPart(SecretValue.Of(secret))] : throw new UncomposableSecretException(secret.Name, format);
            case ParameterResource parameter:
                return [new TextPart(Format(await parameter.GetValueAsync(cancellationToken) ?? "", format))];
            case ConnectionStringReference connectionString:
                return await PartsAsync(connectionString.Resource.ConnectionStringExpression, format);
            case IResourceWithConnectionString resource:
                return await PartsAsync(resource.ConnectionStringExpression, format);
            case EndpointReference endpoint:
                return [new TextPart(Format(Property(endpoint, EndpointProperty.Url), format))];
            case EndpointReferenceExpression expression:
                return [new TextPart(Format(Property(expression.Endpoint, expression.Property), format))];
            case ReferenceExpression { IsConditional: true } conditional:
                {
                    // Decided now, as Aspire's own publishers do for conditions that are not parameters (TLS on an endpoint).
                    var condition = new DeployedValue(await PartsAsync(conditional.Condition, null));
                    if (!condition.IsText)
                    {
                        throw new NotSupportedException($"a condition on a secret ({conditional.ValueExpression})");
                    }

                    var branch = string.Equals(condition.Text, conditional.MatchValue, StringComparison.OrdinalIgnoreCase)
                        ? conditional.WhenTrue : conditional.WhenFalse;
                    return await PartsAsync(branch, format);
                }

            case ReferenceExpression expression:
                {
                    var parts = await ExpressionPartsAsync(expression);
                    if (format is null)
                    {
                        return parts;
                    }

                    var whole = new DeployedValue(parts);
                    return whole.IsText ? [new TextPart(Format(whole.Text, format))] : throw new UncomposableSecretException(whole.Secrets.First().Name, format);
                }

            case IManifestExpressionProvider other:
                throw new NotSupportedException($"{other.GetType().Name} ({other.ValueExpression})");
            default:
                throw new NotSupportedException(value.GetType().Name);
        }
    }

    /// <summary>ReferenceExpression.Format is a composite format string: {0}, {1}… name ValueProviders, {{ and }} are braces.</summary>
    private async Task<IReadOnlyList<ValuePart>> ExpressionPartsAsync(ReferenceExpression expression)
    {
        var parts = new List<ValuePart>();
        var text = new StringBuilder();
        var format = expression.Format;
        for (var i = 0; i < format.Length; i++)
        {
            var c = format[i];
            if ((c == '{' || c == '}') && i + 1 < format.Length && format[i + 1] == c)
            {
                text.Append(c);
                i++;
                continue;
            }

            if (c != '{')
            {
                text.Append(c);
                continue;
            }

            var end = format.IndexOf('}', i);
            var placeholder = format[(i + 1)..end];
            var index = int.Parse(placeholder.Split(',', ':')[0], NumberStyles.Integer, CultureInfo.InvariantCulture);
            parts.Add(new TextPart(text.ToString()));
            text.Clear();
            parts.AddRange(await PartsAsync(expression.ValueProviders[index], expression.StringFormats.ElementAtOrDefault(index)));
            i = end;
        }

        parts.Add(new TextPart(text.ToString()));
        return parts;
    }

    /// <summary>In a cluster an endpoint is its resource's Service: the resource name as host, the published port.</summary>
    private string Property(EndpointReference endpoint, EndpointProperty property)
    {
        if (!ports.TryGetValue((endpoint.Resource.Name, endpoint.EndpointName), out var port))
        {
            throw new NotSupportedException($"endpoint '{endpoint.EndpointName}' of '{endpoint.Resource.Name}', which is not deployed");
        }

        var host = endpoint.Resource.Name;
        var number = PublishSettings.Invariant(port.Port);
        return property switch
        {
            EndpointProperty.Url => $"{port.Scheme}://{host}:{number}",
            EndpointProperty.Host or EndpointProperty.IPV4Host => host,
            EndpointProperty.Port or EndpointProperty.TargetPort => number,
            EndpointProperty.Scheme => port.Scheme,
            EndpointProperty.HostAndPort => $"{host}:{number}",
            EndpointProperty.TlsEnabled => endpoint.EndpointAnnotation.TlsEnabled ? bool.TrueString : bool.FalseString,
            _ => throw new NotSupportedException($"endpoint property {property}"),
        };
    }

    private static string Format(string text, string? format) => format switch
    {
        null => text,
        "uri" => Uri.EscapeDataString(text),
        _ => throw new NotSupportedException($"value format '{format}'"),
    };
}
