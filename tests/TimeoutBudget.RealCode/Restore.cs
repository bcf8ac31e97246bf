using System.Collections.Concurrent;
using System.Diagnostics;
using System.Globalization;
using System.Reflection;
using System.Text;
using System.Text.Json;
using System.Text.RegularExpressions;
using Microsoft.CodeAnalysis;

namespace TimeoutBudget.RealCode;

/// <summary>The target framework a compilation stands for, as parsed from an assets-file target or a TFM.</summary>
internal sealed partial record TargetFramework(string Alias, string Kind, Version Version, string Platform)
{
    /// <summary>The folder name reference packs use (ref/net8.0, ref/netstandard2.1): the TFM without platform.</summary>
    public string Folder => Kind switch
    {
        "net" => $"net{Version.Major}.{Version.Minor}",
        "netcoreapp" => $"netcoreapp{Version.Major}.{Version.Minor}",
        "netstandard" => $"netstandard{Version.Major}.{Version.Minor}",
        _ => Alias,
    };

    // Modern .NET beats .NET Core beats .NET Standard beats .NET Framework; a platform TFM (net8.0-windows) binds
    // against packs Linux does not restore, so the plain TFM of the same version wins.
    public (int, int, Version) Rank => (Kind switch { "net" or "netcoreapp" => 3, "netstandard" => 2, _ => 1 }, Platform.Length == 0 ? 1 : 0, Version);

    /// <summary>What the SDK defines for this TFM (the *_OR_GREATER ladder included), plus TRACE and RELEASE.</summary>
    public IReadOnlyList<string> Symbols()
    {
        var symbols = new List<string> { "TRACE", "RELEASE" };
        switch (Kind)
        {
            case "net" or "netcoreapp":
                symbols.AddRange(["NETCOREAPP", $"{(Version.Major >= 5 ? "NET" : "NETCOREAPP")}{Version.Major}_{Version.Minor}"]);
                if (Version.Major >= 5)
                {
                    symbols.Add("NET");
                }

                foreach (var core in new[] { "1_0", "1_1", "2_0", "2_1", "2_2", "3_0", "3_1" })
                {
                    if (new Version(core.Replace('_', '.')) <= Version)
                    {
                        symbols.Add($"NETCOREAPP{core}_OR_GREATER");
                    }
                }

                for (var major = 5; major <= Version.Major; major++)
                {
                    symbols.Add($"NET{major}_0_OR_GREATER");
                }

                if (Platform.Length > 0)
                {
                    var name = new string(Platform.TakeWhile(char.IsLetter).ToArray()).ToUpperInvariant();
                    symbols.AddRange([name, name + "_OR_GREATER"]);
                }

                break;
            case "netstandard":
                symbols.AddRange(["NETSTANDARD", $"NETSTANDARD{Version.Major}_{Version.Minor}"]);
                foreach (var standard in new[] { "1_0", "1_1", "1_2", "1_3", "1_4", "1_5", "1_6", "2_0", "2_1" })
                {
                    if (new Version(standard.Replace('_', '.')) <= Version)
                    {
                        symbols.Add($"NETSTANDARD{standard}_OR_GREATER");
                    }
                }

                break;
            default:
                symbols.Add("NETFRAMEWORK");
                break;
        }

        return symbols;
    }

    /// <summary>Parses a short TFM (net8.0, net8.0-windows10.0.19041, netcoreapp3.1, netstandard2.0, net472) or a long one (.NETCoreApp,Version=v8.0).</summary>
    public static TargetFramework? Parse(string alias, string? framework)
    {
        var text = (framework ?? alias).Trim();
        if (LongForm().Match(text) is { Success: true } longForm)
        {
            var version = Version.Parse(longForm.Groups[2].Value);
            var kind = longForm.Groups[1].Value switch
            {
                ".NETCoreApp" => version.Major >= 5 ? "net" : "netcoreapp",
                ".NETStandard" => "netstandard",
                ".NETFramework" => "netframework",
                _ => null,
            };
            return kind is null ? null : new TargetFramework(alias, kind, version, string.Empty);
        }

        if (ShortForm().Match(text.ToLowerInvariant()) is not { Success: true } shortForm)
        {
            return null;
        }

        var (name, digits, platform) = (shortForm.Groups[1].Value, shortForm.Groups[2].Value, shortForm.Groups[3].Value);
        if (name == "net" && !digits.Contains('.', StringComparison.Ordinal))
        {
            // net472: .NET Framework, digits without dots.
            return new TargetFramework(alias, "netframework", new Version(digits[0] - '0', digits.Length > 1 ? digits[1] - '0' : 0), platform);
        }

        var parsed = Version.Parse(digits.Contains('.', StringComparison.Ordinal) ? digits : digits + ".0");
        return new TargetFramework(alias, name == "net" && parsed.Major < 5 ? "netcoreapp" : name, parsed, platform);
    }

    [GeneratedRegex(@"^(\.NETCoreApp|\.NETStandard|\.NETFramework),Version=v(\d+(?:\.\d+)*)")]
    private static partial Regex LongForm();

    [GeneratedRegex(@"^(netcoreapp|netstandard|net)(\d+(?:\.\d+)?)(?:-([a-z0-9.]+))?$")]
    private static partial Regex ShortForm();
}

/// <summary>What the restore of one project gave the compilation: references, preprocessor symbols, and a line for the report.</summary>
internal sealed record RestoredProject(
    bool Restored,
    string Status,
    TargetFramework? Framework,
    IReadOnlyList<MetadataReference> References,
    IReadOnlyList<string> Symbols,
    int PackageAssemblies,
    string FrameworkSource)
{
    /// <summary>The project's Using items as MSBuild evaluated them for the chosen framework (null when evaluation failed).</summary>
    public IReadOnlyList<string>? Usings { get; init; }
}

/// <summary>
/// Restores an analyzed project's own NuGet packages: the commit is extracted once into a cache directory (git archive, no
/// checkout), <c>dotnet restore</c> runs there with a time limit, and the compile assets of the chosen target framework in
/// obj/project.assets.json become the references, with that framework's reference pack. Any failure falls back to the
/// harness's own runtime and packages; a restore that failed for some packages still gives the ones it resolved.
/// </summary>
internal sealed partial class Restorer(string cacheRoot, TimeSpan timeout)
{
    private static readonly ConcurrentDictionary<string, MetadataReference> ReferenceCache = new(StringComparer.Ordinal);

    private readonly Dictionary<(string Repo, string Commit), string?> trees = [];
    private readonly Dictionary<(string Repo, string Commit, string Project), RestoredProject> restored = [];

    /// <summary>Restore wall time spent in this run (extraction and dotnet restore), for the report.</summary>
    public TimeSpan Elapsed { get; private set; }

    public RestoredProject Restore(RepoSnapshot snapshot, string projectPath, HarnessReferences harness)
    {
        var key = (snapshot.Mirror.Repo, snapshot.Commit, projectPath);
        if (restored.TryGetValue(key, out var known))
        {
            return known;
        }

        var clock = Stopwatch.StartNew();
        RestoredProject result;
        try
        {
            result = RestoreCore(snapshot, projectPath, harness);
        }
        catch (Exception exception) when (exception is IOException or JsonException or InvalidOperationException or UnauthorizedAccessException or System.ComponentModel.Win32Exception or KeyNotFoundException or FormatException)
        {
            result = harness.Fallback($"restore failed: {exception.GetType().Name}: {exception.Message}");
        }

        Elapsed += clock.Elapsed;
        restored[key] = result;
        return result;
    }

    private RestoredProject RestoreCore(RepoSnapshot snapshot, string projectPath, HarnessReferences harness)
    {
        if (Materialize(snapshot) is not { } root)
        {
            return harness.Fallback("restore failed: git archive did not extract the commit");
        }

        var project = Path.Combine(root, projectPath);
        var marker = Path.Combine(root, ".tb-restore", projectPath.Replace('/', '+') + ".txt");
        string outcome;
        if (File.Exists(marker))
        {
            outcome = File.ReadAllText(marker);
        }
        else
        {
            outcome = RunRestore(project);
            Directory.CreateDirectory(Path.GetDirectoryName(marker)!);
            File.WriteAllText(marker, outcome);
        }

        if (FindAssets(root, project) is not { } assetsPath)
        {
            return harness.Fallback(outcome.Length > 0 ? "restore failed: " + outcome : "restore failed: no project.assets.json");
        }

        using var assets = JsonDocument.Parse(File.ReadAllBytes(assetsPath));
        var result = FromAssets(assets.RootElement, outcome, harness);
        if (!result.Restored || result.Framework is null)
        {
            return result;
        }

        var (usings, defines) = Evaluate(root, project, projectPath, result.Framework.Alias);
        return result with { Usings = usings, Symbols = result.Symbols.Concat(defines).Distinct(StringComparer.Ordinal).ToList() };
    }

    /// <summary>
    /// Asks MSBuild (one evaluation, no build) for the Using items and DefineConstants of the chosen framework: implicit
    /// usings and constants often come from imported props and targets whose paths the harness's own reading cannot follow.
    /// </summary>
    private (IReadOnlyList<string>? Usings, IReadOnlyList<string> Defines) Evaluate(string root, string project, string projectPath, string alias)
    {
        var marker = Path.Combine(root, ".tb-restore", projectPath.Replace('/', '+') + "." + alias + ".evaluation.json");
        string? json = File.Exists(marker) ? File.ReadAllText(marker) : null;
        if (json is null)
        {
            var (exitCode, output) = Run(
                "dotnet",
                ["msbuild", project, "-nologo", $"-p:TargetFramework={alias}", "-p:Configuration=Release", "-getItem:Using", "-getProperty:DefineConstants"],
                cacheRoot,
                TimeSpan.FromMinutes(2));
            var start = output.IndexOf('{', StringComparison.Ordinal);
            json = exitCode == 0 && start >= 0 ? output[start..] : "{}";
            File.WriteAllText(marker, json);
        }

        try
        {
            using var document = JsonDocument.Parse(json);
            var defines = document.RootElement.TryGetProperty("Properties", out var properties) && properties.TryGetProperty("DefineConstants", out var constants)
                ? (constants.GetString() ?? string.Empty).Split(';', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries).Where(d => !d.Contains("$(", StringComparison.Ordinal)).ToList()
                : [];
            if (!document.RootElement.TryGetProperty("Items", out var items) || !items.TryGetProperty("Using", out var usingItems))
            {
                return (document.RootElement.TryGetProperty("Items", out _) ? [] : null, defines);
            }

            var usings = new List<string>();
            foreach (var item in usingItems.EnumerateArray())
            {
                var name = item.GetProperty("Identity").GetString() ?? string.Empty;
                var itemAlias = item.TryGetProperty("Alias", out var a) ? a.GetString() : null;
                var isStatic = item.TryGetProperty("Static", out var st) && string.Equals(st.GetString(), "true", StringComparison.OrdinalIgnoreCase);
                usings.Add(itemAlias is { Length: > 0 } ? $"{itemAlias} = global::{name}" : isStatic ? $"static global::{name}" : name);
            }

            return (usings, defines);
        }
        catch (JsonException)
        {
            return (null, []);
        }
    }

    /// <summary>Extracts the commit's tree once (reused by later runs); a marker file tells a complete extraction from an interrupted one.</summary>
    private string? Materialize(RepoSnapshot snapshot)
    {
        var key = (snapshot.Mirror.Repo, snapshot.Commit);
        if (trees.TryGetValue(key, out var known))
        {
            return known;
        }

        var directory = Path.Combine(cacheRoot, snapshot.Mirror.Repo.Replace('/', '+'), snapshot.Commit);
        var complete = Path.Combine(directory, ".tb-extracted");
        if (!File.Exists(complete))
        {
            if (Directory.Exists(directory))
            {
                Directory.Delete(directory, recursive: true);
            }

            Directory.CreateDirectory(directory);
            var (exitCode, _) = Run("bash", ["-c", "set -o pipefail; git --git-dir=\"$0\" archive --format=tar \"$1\" | tar -x -C \"$2\"", snapshot.Mirror.GitDir, snapshot.Commit, directory], cacheRoot, TimeSpan.FromMinutes(5));
            if (exitCode != 0 && !WriteBuildFiles(snapshot, directory))
            {
                trees[key] = null;
                return null;
            }

            File.WriteAllText(complete, snapshot.Commit);
        }

        trees[key] = directory;
        return directory;
    }

    /// <summary>
    /// A partial mirror (large blobs left out) makes git archive fail; restore and evaluation need only the MSBuild and
    /// NuGet files, so those are written from the blobs the mirror has.
    /// </summary>
    private static bool WriteBuildFiles(RepoSnapshot snapshot, string directory)
    {
        var written = 0;
        foreach (var entry in snapshot.Entries.Where(e => BuildFile().IsMatch(e.Path)))
        {
            byte[] content;
            try
            {
                content = snapshot.Mirror.ReadBlob(entry.Blob);
            }
            catch (InvalidOperationException)
            {
                continue;
            }

            var file = Path.Combine(directory, entry.Path);
            Directory.CreateDirectory(Path.GetDirectoryName(file)!);
            File.WriteAllBytes(file, content);
            written++;
        }

        return written > 0;
    }

    [GeneratedRegex(@"\.(csproj|fsproj|vbproj|proj|props|targets|config|json|snk)$", RegexOptions.IgnoreCase)]
    private static partial Regex BuildFile();

    /// <summary>
    /// Removes <c>&lt;Sdk Name="X" /&gt;</c> elements naming an unresolvable SDK from the build files of the extracted tree (the
    /// cache copy, never the mirror). False when the SDK is the project's only one (Sdk="X" on the Project element).
    /// </summary>
    private static bool DropSdks(string projectDirectory, HashSet<string> sdks)
    {
        var root = projectDirectory;
        while (Path.GetDirectoryName(root) is { } parent && !File.Exists(Path.Combine(root, ".tb-extracted")))
        {
            root = parent;
        }

        var changed = false;
        foreach (var file in Directory.EnumerateFiles(root, "*.*", new EnumerationOptions { RecurseSubdirectories = true, IgnoreInaccessible = true }).Where(f => BuildFile().IsMatch(f) && !f.EndsWith(".json", StringComparison.OrdinalIgnoreCase)))
        {
            var text = File.ReadAllText(file);
            var edited = SdkElement().Replace(text, m => sdks.Contains(m.Groups[1].Value) ? string.Empty : m.Value);
            if (!ReferenceEquals(text, edited) && edited != text)
            {
                File.WriteAllText(file, edited);
                changed = true;
            }
        }

        return changed;
    }

    [GeneratedRegex(@"Could not resolve SDK ""([^""]+)""")]
    private static partial Regex UnresolvedSdk();

    [GeneratedRegex(@"<Sdk\s+Name\s*=\s*""([^""]+)""[^>]*/>")]
    private static partial Regex SdkElement();

    /// <summary>Runs dotnet restore and answers "" on success, else the error codes it printed (NU1101 x2, NETSDK1045) or "timed out".</summary>
    private string RunRestore(string project)
    {
        var outcome = RunRestore(project, windows: false);
        if (UnresolvedSdk().Matches(outcome) is { Count: > 0 } sdks && DropSdks(Path.GetDirectoryName(project)!, sdks.Select(m => m.Groups[1].Value).ToHashSet(StringComparer.OrdinalIgnoreCase)))
        {
            // An add-on MSBuild SDK the registry does not serve (a company's own build SDK next to Microsoft.NET.Sdk) stops
            // the whole evaluation; without it the project still restores its packages.
            var retried = RunRestore(project, windows: false);
            outcome = retried.Length == 0 ? "restored without MSBuild SDK " + string.Join(", ", sdks.Select(m => m.Groups[1].Value).Distinct()) : retried;
        }

        // A net*-windows project refuses to restore on Linux unless told; its packages still restore then (the Windows
        // Desktop pack itself may not be served, which leaves the restore partial).
        return outcome.Contains("NETSDK1100", StringComparison.Ordinal) ? RunRestore(project, windows: true) : outcome;
    }

    private string RunRestore(string project, bool windows)
    {
        // The working directory is the cache root, not the repository: a global.json there could pin an SDK this machine
        // lacks. Failed sources are ignored (private feeds), audit is off (no network round trips for vulnerability data),
        // and warnings stay warnings (NU1603 from versions the registry no longer serves would otherwise fail the restore).
        var (exitCode, output) = Run(
            "dotnet",
            ["restore", project, "--ignore-failed-sources", "-nologo", "-v:q", "-p:NuGetAudit=false", "-p:TreatWarningsAsErrors=false", .. (windows ? new[] { "-p:EnableWindowsTargeting=true" } : [])],
            cacheRoot,
            timeout);
        if (exitCode == 0)
        {
            return string.Empty;
        }

        if (exitCode == -1)
        {
            return $"timed out after {timeout.TotalMinutes:0} min";
        }

        var codes = ErrorCode().Matches(output).Select(m => m.Groups[1].Value).GroupBy(c => c, StringComparer.Ordinal)
            .OrderByDescending(g => g.Count()).ThenBy(g => g.Key, StringComparer.Ordinal)
            .Select(g => g.Count() > 1 ? $"{g.Key} x{g.Count()}" : g.Key).ToList();
        var first = output.Split('\n').FirstOrDefault(l => l.Contains("error ", StringComparison.Ordinal))?.Trim() ?? string.Empty;
        var detail = ErrorCode().Match(first) is { Success: true } match ? first[(match.Index)..] : first;
        var sdks = UnresolvedSdk().Matches(output).Select(m => $"; Could not resolve SDK \"{m.Groups[1].Value}\"").Distinct(StringComparer.Ordinal);
        return (codes.Count > 0 ? string.Join(", ", codes) : $"exit code {exitCode}") + (detail.Length > 0 ? " (" + Truncate(detail, 140) + ")" : string.Empty) + string.Concat(sdks);
    }

    /// <summary>The assets file of <paramref name="project"/>: obj/ next to it, else any assets file whose restore names it (custom intermediate paths).</summary>
    private static string? FindAssets(string root, string project)
    {
        var standard = Path.Combine(Path.GetDirectoryName(project)!, "obj", "project.assets.json");
        if (File.Exists(standard))
        {
            return standard;
        }

        foreach (var candidate in Directory.EnumerateFiles(root, "project.assets.json", new EnumerationOptions { RecurseSubdirectories = true, IgnoreInaccessible = true }))
        {
            using var stream = File.OpenRead(candidate);
            using var document = JsonDocument.Parse(stream);
            if (document.RootElement.TryGetProperty("project", out var p) && p.TryGetProperty("restore", out var r)
                && r.TryGetProperty("projectPath", out var path) && string.Equals(Path.GetFullPath(path.GetString() ?? string.Empty), Path.GetFullPath(project), StringComparison.Ordinal))
            {
                return candidate;
            }
        }

        return null;
    }

    private static RestoredProject FromAssets(JsonElement assets, string outcome, HarnessReferences harness)
    {
        var frameworks = assets.TryGetProperty("project", out var project) && project.TryGetProperty("frameworks", out var f) ? f : default;
        var chosen = assets.GetProperty("targets").EnumerateObject()
            .Where(t => !t.Name.Contains('/', StringComparison.Ordinal))
            .Select(t => (Target: t, Framework: TargetFramework.Parse(t.Name, FrameworkOf(frameworks, t.Name))))
            .Where(t => t.Framework is not null)
            .OrderByDescending(t => t.Framework!.Rank)
            .FirstOrDefault();
        if (chosen.Framework is null)
        {
            return harness.Fallback("restore failed: no usable target in project.assets.json" + (outcome.Length > 0 ? "; " + outcome : string.Empty));
        }

        var folders = assets.GetProperty("packageFolders").EnumerateObject().Select(p => p.Name).ToList();
        var libraries = assets.GetProperty("libraries");
        var packages = new List<string>();
        var packageVersions = new Dictionary<string, string>(StringComparer.OrdinalIgnoreCase);
        foreach (var library in chosen.Target.Value.EnumerateObject())
        {
            var slash = library.Name.IndexOf('/', StringComparison.Ordinal);
            if (slash > 0)
            {
                packageVersions[library.Name[..slash]] = library.Name[(slash + 1)..];
            }

            if (!library.Value.TryGetProperty("type", out var type) || type.GetString() != "package" || !library.Value.TryGetProperty("compile", out var compile)
                || !libraries.TryGetProperty(library.Name, out var description) || !description.TryGetProperty("path", out var libraryPath))
            {
                continue;
            }

            foreach (var asset in compile.EnumerateObject())
            {
                if (asset.Name.EndsWith("/_._", StringComparison.Ordinal) || !asset.Name.EndsWith(".dll", StringComparison.OrdinalIgnoreCase))
                {
                    continue;
                }

                var file = folders.Select(folder => Path.Combine(folder, libraryPath.GetString()!, asset.Name)).FirstOrDefault(File.Exists);
                if (file is not null)
                {
                    packages.Add(file);
                }
            }
        }

        var frameworkReferences = frameworks.ValueKind == JsonValueKind.Object && frameworks.TryGetProperty(chosen.Target.Name, out var fw)
            && fw.TryGetProperty("frameworkReferences", out var refs) ? refs.EnumerateObject().Select(r => r.Name).ToList() : [];
        var downloads = frameworks.ValueKind == JsonValueKind.Object && frameworks.TryGetProperty(chosen.Target.Name, out var fw2)
            && fw2.TryGetProperty("downloadDependencies", out var dl)
            ? dl.EnumerateArray().ToDictionary(d => d.GetProperty("name").GetString()!, d => d.GetProperty("version").GetString()!.Trim('[', ']').Split(',')[0].Trim(), StringComparer.OrdinalIgnoreCase)
            : new Dictionary<string, string>(StringComparer.OrdinalIgnoreCase);
        var frameworkFiles = FrameworkAssemblies(chosen.Framework, frameworkReferences, downloads, packageVersions, folders);
        var status = outcome.Length == 0 ? "restored" : "restored partly: " + outcome;
        return harness.Combine(status, chosen.Framework, packages, frameworkFiles);
    }

    private static string? FrameworkOf(JsonElement frameworks, string alias) =>
        frameworks.ValueKind == JsonValueKind.Object && frameworks.TryGetProperty(alias, out var entry) && entry.TryGetProperty("framework", out var name) ? name.GetString() : null;

    /// <summary>
    /// The reference assemblies of the chosen framework: the targeting packs restore downloaded (Microsoft.NETCore.App.Ref,
    /// Microsoft.AspNetCore.App.Ref when the project references that framework) or the SDK's own packs, the
    /// NETStandard.Library package for netstandard2.0. Null when they are not on disk: the harness's runtime stands in.
    /// </summary>
    private static List<string>? FrameworkAssemblies(TargetFramework framework, List<string> frameworkReferences, Dictionary<string, string> downloads, Dictionary<string, string> packageVersions, List<string> folders)
    {
        var packs = new List<string>();
        switch (framework.Kind)
        {
            case "net" or "netcoreapp" when framework.Version.Major >= 3:
                packs.Add("Microsoft.NETCore.App.Ref");
                if (frameworkReferences.Contains("Microsoft.AspNetCore.App", StringComparer.OrdinalIgnoreCase))
                {
                    packs.Add("Microsoft.AspNetCore.App.Ref");
                }

                break;
            case "netstandard" when framework.Version >= new Version(2, 1):
                packs.Add("NETStandard.Library.Ref");
                break;
            case "netstandard" when framework.Version == new Version(2, 0) && packageVersions.TryGetValue("NETStandard.Library", out var version):
                var directory = folders.Select(f => Path.Combine(f, "netstandard.library", version.ToLowerInvariant(), "build", "netstandard2.0", "ref")).FirstOrDefault(Directory.Exists);
                return directory is null ? null : Directory.GetFiles(directory, "*.dll").Order(StringComparer.Ordinal).ToList();
            default:
                return null;
        }

        var files = new List<string>();
        foreach (var pack in packs)
        {
            var directory = PackDirectory(pack, framework.Folder, downloads, folders);
            if (directory is null)
            {
                return null;
            }

            files.AddRange(Directory.GetFiles(directory, "*.dll").Order(StringComparer.Ordinal));
        }

        return files;
    }

    private static string? PackDirectory(string pack, string folder, Dictionary<string, string> downloads, List<string> packageFolders)
    {
        var candidates = new List<string>();
        if (downloads.TryGetValue(pack, out var version))
        {
            candidates.AddRange(packageFolders.Select(f => Path.Combine(f, pack.ToLowerInvariant(), version, "ref", folder)));
        }

        // The SDK's bundled packs (the current TFM needs no download): the highest version that has the folder.
        var installed = Path.Combine(DotnetRoot(), "packs", pack);
        if (Directory.Exists(installed))
        {
            candidates.AddRange(Directory.GetDirectories(installed)
                .OrderByDescending(d => Version.TryParse(Path.GetFileName(d).Split('-')[0], out var v) ? v : new Version(0, 0))
                .Select(d => Path.Combine(d, "ref", folder)));
        }

        return candidates.FirstOrDefault(Directory.Exists);
    }

    private static string DotnetRoot()
    {
        if (Environment.GetEnvironmentVariable("DOTNET_ROOT") is { Length: > 0 } root && Directory.Exists(Path.Combine(root, "packs")))
        {
            return root;
        }

        // The harness runs on the shared runtime: <root>/shared/Microsoft.NETCore.App/<version>/.
        var runtime = Path.GetDirectoryName(typeof(object).Assembly.Location)!;
        return Path.GetFullPath(Path.Combine(runtime, "..", "..", ".."));
    }

    public static MetadataReference Reference(string path) => ReferenceCache.GetOrAdd(path, p => MetadataReference.CreateFromFile(p));

    private static (int ExitCode, string Output) Run(string fileName, IReadOnlyList<string> arguments, string workingDirectory, TimeSpan limit)
    {
        Directory.CreateDirectory(workingDirectory);
        var start = new ProcessStartInfo(fileName)
        {
            RedirectStandardOutput = true,
            RedirectStandardError = true,
            UseShellExecute = false,
            WorkingDirectory = workingDirectory,
            StandardOutputEncoding = Encoding.UTF8,
        };
        foreach (var argument in arguments)
        {
            start.ArgumentList.Add(argument);
        }

        // No MSBuild node or build server outlives the restore: the harness ends only what it started.
        start.Environment["MSBUILDDISABLENODEREUSE"] = "1";
        start.Environment["DOTNET_CLI_USE_MSBUILD_SERVER"] = "0";
        start.Environment["DOTNET_CLI_TELEMETRY_OPTOUT"] = "1";
        start.Environment["DOTNET_NOLOGO"] = "1";
        using var process = Process.Start(start) ?? throw new InvalidOperationException($"{fileName} could not be started.");
        var stdout = process.StandardOutput.ReadToEndAsync();
        var stderr = process.StandardError.ReadToEndAsync();
        if (!process.WaitForExit(limit))
        {
            process.Kill(entireProcessTree: true);
            process.WaitForExit();
            return (-1, string.Empty);
        }

        process.WaitForExit();
        return (process.ExitCode, stdout.Result + stderr.Result);
    }

    private static string Truncate(string text, int length) => text.Length <= length ? text : text[..length] + "…";

    [GeneratedRegex(@"error ((?:NU|NETSDK|MSB|CS)\d{4})")]
    private static partial Regex ErrorCode();
}

/// <summary>
/// The harness's own references: its shared frameworks (the fallback framework) and the packages it carries for the
/// analyzed code (Polly, AWS, resilience, gRPC), which fill in assembly names a restore did not bring.
/// </summary>
internal sealed class HarnessReferences
{
    public HarnessReferences()
    {
        var trusted = (AppContext.GetData("TRUSTED_PLATFORM_ASSEMBLIES") as string ?? string.Empty).Split(Path.PathSeparator, StringSplitOptions.RemoveEmptyEntries)
            .Where(p => p.EndsWith(".dll", StringComparison.OrdinalIgnoreCase))
            .Where(p =>
            {
                var name = Path.GetFileNameWithoutExtension(p);
                return !name.StartsWith("Microsoft.CodeAnalysis", StringComparison.OrdinalIgnoreCase)
                    && !name.StartsWith("TimeoutBudget", StringComparison.OrdinalIgnoreCase);
            })
            .Order(StringComparer.Ordinal)
            .ToList();
        var own = Path.GetFullPath(AppContext.BaseDirectory);
        Packages = trusted.Where(p => Path.GetFullPath(p).StartsWith(own, StringComparison.Ordinal)).ToList();
        Framework = trusted.Except(Packages, StringComparer.Ordinal).ToList();
        All = trusted.Select(Restorer.Reference).ToList();
    }

    /// <summary>Shared-framework assemblies of the harness's runtime (.NET and ASP.NET Core).</summary>
    public IReadOnlyList<string> Framework { get; }

    /// <summary>Package assemblies copied next to the harness.</summary>
    public IReadOnlyList<string> Packages { get; }

    /// <summary>What the harness compiled against before restores existed.</summary>
    public IReadOnlyList<MetadataReference> All { get; }

    /// <summary>The harness's references as they were: no restore.</summary>
    public RestoredProject Fallback(string status) =>
        new(false, status, null, All, DefaultSymbols, 0, "harness");

    /// <summary>
    /// Restored package assemblies plus framework reference assemblies (the harness's runtime when the pack is not on disk),
    /// one file per assembly name: the higher assembly version wins, as the SDK's conflict resolution does, then the
    /// framework on a tie; the harness's packages only fill in names still missing.
    /// </summary>
    public RestoredProject Combine(string status, TargetFramework framework, IReadOnlyList<string> packages, IReadOnlyList<string>? frameworkFiles)
    {
        var chosen = new Dictionary<string, (string Path, Version Version, bool Framework)>(StringComparer.OrdinalIgnoreCase);
        void Offer(string path, bool isFramework)
        {
            var name = Path.GetFileNameWithoutExtension(path);
            var version = AssemblyVersion(path);
            if (!chosen.TryGetValue(name, out var current) || version > current.Version || (version == current.Version && isFramework && !current.Framework))
            {
                chosen[name] = (path, version, isFramework);
            }
        }

        foreach (var file in packages)
        {
            Offer(file, isFramework: false);
        }

        foreach (var file in frameworkFiles ?? Framework)
        {
            Offer(file, isFramework: true);
        }

        var packageCount = chosen.Values.Count(c => !c.Framework);
        foreach (var file in Packages)
        {
            chosen.TryAdd(Path.GetFileNameWithoutExtension(file), (file, new Version(0, 0), false));
        }

        var references = chosen.Values.Select(c => c.Path).Order(StringComparer.Ordinal).Select(Restorer.Reference).ToList();
        return new RestoredProject(true, status, framework, references, framework.Symbols(), packageCount, frameworkFiles is null ? "harness" : framework.Folder + " pack");
    }

    private static readonly ConcurrentDictionary<string, Version> Versions = new(StringComparer.Ordinal);

    private static Version AssemblyVersion(string path) => Versions.GetOrAdd(path, p =>
    {
        try
        {
            return AssemblyName.GetAssemblyName(p).Version ?? new Version(0, 0);
        }
        catch (Exception exception) when (exception is BadImageFormatException or IOException)
        {
            return new Version(0, 0);
        }
    });

    // What a net8+ build defines. Code under #if NETFRAMEWORK / NETSTANDARD stays inactive, as in the modern build of a multi-targeted project.
    public static readonly IReadOnlyList<string> DefaultSymbols =
    [
        "NET", "NETCOREAPP", "TRACE", "RELEASE",
        "NETCOREAPP1_0_OR_GREATER", "NETCOREAPP1_1_OR_GREATER", "NETCOREAPP2_0_OR_GREATER", "NETCOREAPP2_1_OR_GREATER",
        "NETCOREAPP2_2_OR_GREATER", "NETCOREAPP3_0_OR_GREATER", "NETCOREAPP3_1_OR_GREATER",
        "NET5_0_OR_GREATER", "NET6_0_OR_GREATER", "NET7_0_OR_GREATER", "NET8_0_OR_GREATER",
    ];
}
