namespace Chat.Tests.Infrastructure;

/// <summary>.test-artifacts/ at the repository root (git-ignored): screenshots, service logs, test results.</summary>
public static class TestArtifacts
{
    public static string Root { get; } = FindRoot();

    public static string Directory(string name)
    {
        var path = Path.Combine(Root, name);
        System.IO.Directory.CreateDirectory(path);
        return path;
    }

    private static string FindRoot()
    {
        var directory = new DirectoryInfo(AppContext.BaseDirectory);
        while (directory is not null && !File.Exists(Path.Combine(directory.FullName, "Chat.sln")))
        {
            directory = directory.Parent;
        }

        return Path.Combine(directory?.FullName ?? AppContext.BaseDirectory, ".test-artifacts");
    }
}
