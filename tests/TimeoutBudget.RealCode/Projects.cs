using System.Text.RegularExpressions;
using System.Xml.Linq;

namespace TimeoutBudget.RealCode;

/// <summary>What one csproj contributes to a compilation: its own sources, usings and configuration files.</summary>
internal sealed record ProjectFile(
    string Path,
    string Directory,
    IReadOnlyList<TreeEntry> Sources,
    IReadOnlyList<TreeEntry> AppSettings,
    IReadOnlyList<string> GlobalUsings,
    IReadOnlyList<string> References);

/// <summary>A project closed over its project references (bounded), as one compilation will see it.</summary>
internal sealed record ProjectClosure(ProjectFile Root, IReadOnlyList<ProjectFile> Projects)
{
    public IEnumerable<TreeEntry> Sources => Projects.SelectMany(p => p.Sources).DistinctBy(s => s.Path);

    public IEnumerable<string> GlobalUsings => Projects.SelectMany(p => p.GlobalUsings).Distinct(StringComparer.Ordinal);
}

/// <summary>
/// The projects of one commit, read from the csproj files without MSBuild: a project owns the .cs files below its directory
/// except bin/obj and those of a nested project. This is the SDK default; explicit Compile items add linked files.
/// </summary>
internal sealed partial class RepoSnapshot
{
    // Referenced projects are followed this deep; further ones rarely hold the constants a case needs and cost compile time.
    private const int MaxReferenceDepth = 6;

    private static readonly string[] CommonUsings =
    [
        "System", "System.Collections.Generic", "System.IO", "System.Linq", "System.Net.Http", "System.Threading", "System.Threading.Tasks",
    ];

    private static readonly string[] WebUsings =
    [
        "System.Net.Http.Json", "Microsoft.AspNetCore.Builder", "Microsoft.AspNetCore.Hosting", "Microsoft.AspNetCore.Http",
        "Microsoft.AspNetCore.Routing", "Microsoft.Extensions.Configuration", "Microsoft.Extensions.DependencyInjection",
        "Microsoft.Extensions.Hosting", "Microsoft.Extensions.Logging",
    ];

    private static readonly string[] WorkerUsings =
    [
        "Microsoft.Extensions.Configuration", "Microsoft.Extensions.DependencyInjection", "Microsoft.Extensions.Hosting", "Microsoft.Extensions.Logging",
    ];

    private readonly Mirror mirror;
    private readonly Dictionary<string, TreeEntry> files;
    private readonly Dictionary<string, List<string>> projectsByDirectory = new(StringComparer.Ordinal);
    private readonly Dictionary<string, List<TreeEntry>> sourcesByProjectDirectory = new(StringComparer.Ordinal);
    private readonly Dictionary<string, ProjectFile> parsed = new(StringComparer.Ordinal);

    public RepoSnapshot(Mirror mirror, string commit, IReadOnlyList<TreeEntry> tree)
    {
        this.mirror = mirror;
        Commit = commit;
        files = tree.ToDictionary(e => e.Path, StringComparer.Ordinal);
        foreach (var entry in tree.Where(e => e.Path.EndsWith(".csproj", StringComparison.OrdinalIgnoreCase)))
        {
            var directory = DirectoryOf(entry.Path);
            if (!projectsByDirectory.TryGetValue(directory, out var list))
            {
                projectsByDirectory[directory] = list = [];
            }

            list.Add(entry.Path);
        }

        foreach (var entry in tree.Where(e => e.Path.EndsWith(".cs", StringComparison.OrdinalIgnoreCase)))
        {
            if (OwningProjectDirectory(entry.Path) is { } owner && !InBuildOutput(entry.Path, owner))
            {
                if (!sourcesByProjectDirectory.TryGetValue(owner, out var list))
                {
                    sourcesByProjectDirectory[owner] = list = [];
                }

                list.Add(entry);
            }
        }
    }

    public string Commit { get; }

    public Mirror Mirror => mirror;

    public bool Contains(string path) => files.ContainsKey(path);

    public IEnumerable<TreeEntry> Entries => files.Values;

    public IEnumerable<string> AllProjects => projectsByDirectory.Values.SelectMany(p => p).Order(StringComparer.Ordinal);

    /// <summary>The csproj nearest above <paramref name="path"/>; with several in one directory, the one named like the directory.</summary>
    public string? ProjectOf(string path)
    {
        if (OwningProjectDirectory(path) is not { } directory)
        {
            return null;
        }

        var candidates = projectsByDirectory[directory];
        var named = candidates.FirstOrDefault(p => string.Equals(Path.GetFileNameWithoutExtension(p), Path.GetFileName(directory), StringComparison.OrdinalIgnoreCase));
        return named ?? candidates.Order(StringComparer.Ordinal).First();
    }

    public ProjectClosure Close(string projectPath)
    {
        var root = Parse(projectPath);
        var seen = new HashSet<string>(StringComparer.Ordinal) { projectPath };
        var projects = new List<ProjectFile> { root };
        var frontier = new List<ProjectFile> { root };
        for (var depth = 0; depth < MaxReferenceDepth && frontier.Count > 0; depth++)
        {
            var next = new List<ProjectFile>();
            foreach (var reference in frontier.SelectMany(p => p.References))
            {
                if (files.ContainsKey(reference) && seen.Add(reference))
                {
                    var project = Parse(reference);
                    projects.Add(project);
                    next.Add(project);
                }
            }

            frontier = next;
        }

        return new ProjectClosure(root, projects);
    }

    private ProjectFile Parse(string projectPath)
    {
        if (parsed.TryGetValue(projectPath, out var known))
        {
            return known;
        }

        var directory = DirectoryOf(projectPath);
        var project = Load(projectPath);
        var sources = new List<TreeEntry>();
        var references = new List<string>();
        var settings = new BuildSettings();
        var defaultItems = true;
        var sdk = string.Empty;

        // MSBuild imports the nearest Directory.Build.props before the project body; it and the files either imports
        // often switch implicit usings on or add and remove Using items for all projects.
        for (var current = directory; ; current = DirectoryOf(current))
        {
            var props = Combine(current, "Directory.Build.props");
            if (files.ContainsKey(props))
            {
                Scan(props, settings, depth: 0);
                break;
            }

            if (current.Length == 0)
            {
                break;
            }
        }

        if (project is not null)
        {
            sdk = (string?)project.Attribute("Sdk") ?? string.Empty;
            var sdkStyle = sdk.Length > 0 || project.Elements().Any(e => e.Name.LocalName == "Sdk") || project.Elements().Any(e => e.Name.LocalName == "Import" && e.Attribute("Sdk") is not null);
            defaultItems = sdkStyle && !IsFalse(Property(project, "EnableDefaultCompileItems"));
            foreach (var item in Items(project, "ProjectReference"))
            {
                if (Resolve(directory, item) is { } reference)
                {
                    references.Add(reference);
                }
            }

            Scan(projectPath, settings, depth: 0);
            foreach (var item in Items(project, "Compile"))
            {
                sources.AddRange(Glob(directory, item));
            }
        }

        if (defaultItems && sourcesByProjectDirectory.TryGetValue(directory, out var own))
        {
            sources.AddRange(own);
        }

        // The SDK's implicit Using items come before every Using item of the props and the project, so removals apply to them.
        var usings = new List<string>();
        if (settings.ImplicitUsings)
        {
            usings.AddRange(CommonUsings);
            if (sdk.Contains(".Web", StringComparison.OrdinalIgnoreCase))
            {
                usings.AddRange(WebUsings);
            }
            else if (sdk.Contains(".Worker", StringComparison.OrdinalIgnoreCase))
            {
                usings.AddRange(WorkerUsings);
            }
        }

        foreach (var (name, remove) in settings.Usings)
        {
            if (remove)
            {
                usings.RemoveAll(u => u == name);
            }
            else
            {
                usings.Add(name);
            }
        }

        var appSettings = files.Values
            .Where(e => DirectoryOf(e.Path) == directory && Path.GetFileName(e.Path).StartsWith("appsettings", StringComparison.OrdinalIgnoreCase) && e.Path.EndsWith(".json", StringComparison.OrdinalIgnoreCase))
            .OrderBy(e => e.Path, StringComparer.Ordinal)
            .ToList();
        var result = new ProjectFile(projectPath, directory, sources.DistinctBy(s => s.Path).ToList(), appSettings, usings.Distinct(StringComparer.Ordinal).ToList(), references);
        parsed[projectPath] = result;
        return result;
    }

    private XElement? Load(string path)
    {
        try
        {
            return XDocument.Parse(mirror.ReadText(files[path].Blob)).Root;
        }
        catch (System.Xml.XmlException)
        {
            return null;
        }
    }

    private static string? Property(XElement project, string name) =>
        project.Descendants().LastOrDefault(e => e.Name.LocalName == name && e.Parent?.Name.LocalName == "PropertyGroup")?.Value.Trim();

    private static IEnumerable<string> Items(XElement project, string kind) =>
        project.Descendants().Where(e => e.Name.LocalName == kind && e.Parent?.Name.LocalName == "ItemGroup")
            .Select(e => (string?)e.Attribute("Include")).OfType<string>()
            .SelectMany(i => i.Split(';', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries));

    /// <summary>What the props, imports and project say about usings, in evaluation order.</summary>
    private sealed class BuildSettings
    {
        public bool ImplicitUsings { get; set; }

        public List<(string Name, bool Remove)> Usings { get; } = [];
    }

    // Imports are followed this deep (shared.props importing versions.props importing ...); conditions are not evaluated.
    private const int MaxImportDepth = 4;

    private void Scan(string path, BuildSettings settings, int depth)
    {
        if (Load(path) is not { } root)
        {
            return;
        }

        var directory = DirectoryOf(path);
        foreach (var element in root.Descendants())
        {
            switch (element.Name.LocalName)
            {
                case "ImplicitUsings" when element.Parent?.Name.LocalName == "PropertyGroup":
                    settings.ImplicitUsings = IsEnabled(element.Value.Trim());
                    break;
                case "Using" when element.Parent?.Name.LocalName == "ItemGroup":
                    if ((string?)element.Attribute("Remove") is { Length: > 0 } removed)
                    {
                        settings.Usings.Add((removed, true));
                    }
                    else if ((string?)element.Attribute("Include") is { Length: > 0 } name && !name.Contains("$(", StringComparison.Ordinal))
                    {
                        var alias = (string?)element.Attribute("Alias");
                        var isStatic = string.Equals((string?)element.Attribute("Static"), "true", StringComparison.OrdinalIgnoreCase);
                        settings.Usings.Add((alias is { Length: > 0 } ? $"{alias} = global::{name}" : isStatic ? $"static global::{name}" : name, false));
                    }

                    break;
                case "Import" when depth < MaxImportDepth && (string?)element.Attribute("Project") is { Length: > 0 } imported
                        && FileAbove().Match(imported) is { Success: true } above:
                    // $([MSBuild]::GetPathOfFileAbove('Directory.Build.props', ...)): the chain of Directory.Build.props files.
                    for (var current = directory; current.Length > 0;)
                    {
                        current = DirectoryOf(current);
                        var candidate = Combine(current, above.Groups[1].Value);
                        if (files.ContainsKey(candidate))
                        {
                            Scan(candidate, settings, depth + 1);
                            break;
                        }
                    }

                    break;
                case "Import" when depth < MaxImportDepth && (string?)element.Attribute("Project") is { Length: > 0 } imported:
                    var relative = imported.Replace("$(MSBuildThisFileDirectory)", string.Empty, StringComparison.Ordinal).Replace('\\', '/').TrimStart('/');
                    if (Resolve(directory, relative) is { } file && files.ContainsKey(file))
                    {
                        Scan(file, settings, depth + 1);
                    }

                    break;
            }
        }
    }

    private static bool IsEnabled(string? value) => string.Equals(value, "enable", StringComparison.OrdinalIgnoreCase) || string.Equals(value, "true", StringComparison.OrdinalIgnoreCase);

    private static bool IsFalse(string? value) => string.Equals(value, "false", StringComparison.OrdinalIgnoreCase);

    /// <summary>Explicit Compile items: a file, or a directory glob ending in *.cs (linked shared sources). Properties are not evaluated.</summary>
    private IEnumerable<TreeEntry> Glob(string directory, string include)
    {
        if (include.Contains("$(", StringComparison.Ordinal) || !include.EndsWith(".cs", StringComparison.OrdinalIgnoreCase))
        {
            return [];
        }

        var pattern = include.Replace('\\', '/');
        if (!pattern.Contains('*', StringComparison.Ordinal))
        {
            return Resolve(directory, pattern) is { } file && files.TryGetValue(file, out var entry) ? [entry] : [];
        }

        var star = pattern.IndexOf('*', StringComparison.Ordinal);
        var prefix = Normalize(Combine(directory, pattern[..star]));
        var recursive = pattern.Contains("**", StringComparison.Ordinal);
        return files.Values.Where(e => e.Path.EndsWith(".cs", StringComparison.OrdinalIgnoreCase)
            && e.Path.StartsWith(prefix, StringComparison.Ordinal)
            && (recursive || !e.Path[prefix.Length..].Contains('/', StringComparison.Ordinal))
            && !InBuildOutput(e.Path, prefix.TrimEnd('/')));
    }

    private static string? Resolve(string directory, string include)
    {
        if (include.Contains("$(", StringComparison.Ordinal))
        {
            return null;
        }

        return Normalize(Combine(directory, include.Replace('\\', '/')));
    }

    private string? OwningProjectDirectory(string path)
    {
        for (var directory = DirectoryOf(path); ; directory = DirectoryOf(directory))
        {
            if (projectsByDirectory.ContainsKey(directory))
            {
                return directory;
            }

            if (directory.Length == 0)
            {
                return null;
            }
        }
    }

    private static bool InBuildOutput(string path, string projectDirectory)
    {
        var relative = projectDirectory.Length == 0 ? path : path[Math.Min(path.Length, projectDirectory.Length + 1)..];
        return BuildOutput().IsMatch(relative);
    }

    public static string DirectoryOf(string path)
    {
        var slash = path.LastIndexOf('/');
        return slash < 0 ? string.Empty : path[..slash];
    }

    private static string Combine(string directory, string relative) => directory.Length == 0 ? relative : directory + "/" + relative;

    /// <summary>Folds "." and ".." segments; a path that climbs above the repository root keeps no leading "..".</summary>
    private static string Normalize(string path)
    {
        var parts = new List<string>();
        foreach (var part in path.Split('/'))
        {
            if (part == "..")
            {
                if (parts.Count > 0)
                {
                    parts.RemoveAt(parts.Count - 1);
                }
            }
            else if (part.Length > 0 && part != ".")
            {
                parts.Add(part);
            }
        }

        var normalized = string.Join('/', parts);
        return path.EndsWith('/') && normalized.Length > 0 ? normalized + "/" : normalized;
    }

    [GeneratedRegex(@"GetPathOfFileAbove\(\s*'([^'/\\]+)'")]
    private static partial Regex FileAbove();

    [GeneratedRegex(@"(^|/)(bin|obj)/", RegexOptions.IgnoreCase)]
    private static partial Regex BuildOutput();
}
