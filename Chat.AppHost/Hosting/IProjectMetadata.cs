namespace Chat.Hosting;

/// <summary>
/// Where a project resource comes from, as Aspire's IProjectMetadata: generated per project reference into the
/// Projects namespace (ProjectResources.targets), so the orchestrator runs the output of the build it was built with.
/// </summary>
public interface IProjectMetadata
{
    string ProjectPath { get; }

    string AssemblyName { get; }

    string Configuration { get; }

    string TargetFramework { get; }
}

public static class ProjectMetadataExtensions
{
    /// <summary>bin/&lt;Configuration&gt;/&lt;TargetFramework&gt; next to the project file.</summary>
    public static string OutputDirectory(this IProjectMetadata project) =>
        Path.Combine(Path.GetDirectoryName(project.ProjectPath)!, "bin", project.Configuration, project.TargetFramework);

    public static string OutputAssembly(this IProjectMetadata project) =>
        Path.Combine(project.OutputDirectory(), project.AssemblyName + ".dll");
}
