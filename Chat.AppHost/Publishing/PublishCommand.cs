using Chat.AppHost.Publishing;

namespace Aspire.Hosting;

/// <summary>
/// `publish --target kubernetes|compose --output &lt;dir&gt;`, the short command of the README, as Aspire's own
/// `--operation publish --step publish-kubernetes|publish-compose --output-path &lt;dir&gt;`. It has to be translated
/// before DistributedApplication.CreateBuilder: the builder decides between run and publish mode from its arguments.
/// Every other argument (--replicas sse=3, --Publish:ImageTag=1.2.0, --Llm:Provider=…) passes through unchanged and
/// shapes the graph exactly as it does a local run.
/// </summary>
public static class PublishCommand
{
    public static string[] Translate(string[] args)
    {
        if (args is not [var verb, ..] || !string.Equals(verb, "publish", StringComparison.OrdinalIgnoreCase))
        {
            return args;
        }

        string target = "kubernetes";
        string? output = null;
        var rest = new List<string>();
        for (var i = 1; i < args.Length; i++)
        {
            if (Option(args, ref i, "--target", "-t") is { } givenTarget)
            {
                target = givenTarget;
            }
            else if (Option(args, ref i, "--output", "-o") is { } givenOutput)
            {
                output = givenOutput;
            }
            else
            {
                rest.Add(args[i]);
            }
        }

        var (step, defaultOutput) = target.ToLowerInvariant() switch
        {
            "kubernetes" or "k8s" => (ChatPublishingExtensions.KubernetesStep, Path.Combine("deploy", "k8s")),
            "compose" or "docker-compose" => (ChatPublishingExtensions.ComposeStep, Path.Combine("deploy", "compose")),
            _ => throw new DistributedApplicationException(
                $"publish --target {target}: expected kubernetes or compose (e.g. publish --target kubernetes --output deploy/k8s)."),
        };

        return ["--operation", "publish", "--step", step, "--output-path", Path.GetFullPath(output ?? defaultOutput), .. rest];
    }

    /// <summary>The value of `--name value` or `--name=value` at <paramref name="i"/> (moving past it), else null.</summary>
    private static string? Option(string[] args, ref int i, string name, string shortName)
    {
        var argument = args[i];
        if (argument.StartsWith(name + "=", StringComparison.OrdinalIgnoreCase))
        {
            return argument[(name.Length + 1)..];
        }

        if (!string.Equals(argument, name, StringComparison.OrdinalIgnoreCase) && argument != shortName)
        {
            return null;
        }

        if (i + 1 >= args.Length || args[i + 1].StartsWith('-'))
        {
            throw new DistributedApplicationException($"publish {name}: a value is missing (e.g. publish --target kubernetes --output deploy/k8s).");
        }

        return args[++i];
    }
}
