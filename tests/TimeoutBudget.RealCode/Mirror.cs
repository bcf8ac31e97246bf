using System.Diagnostics;
using System.Text;

namespace TimeoutBudget.RealCode;

/// <summary>One blob of a commit's tree: its repository-relative path (always '/'-separated) and object id.</summary>
internal sealed record TreeEntry(string Path, string Blob);

/// <summary>
/// Read-only access to a bare mirror through git processes. Files are never written out: third-party code stays in the
/// mirror, and one long-lived <c>git cat-file --batch</c> serves every blob, which is much faster than a process per file.
/// </summary>
internal sealed class Mirror : IDisposable
{
    // A git call that takes longer than this is stuck (a huge repository lists its tree in seconds).
    private static readonly TimeSpan GitTimeout = TimeSpan.FromMinutes(5);

    private readonly Dictionary<string, IReadOnlyList<TreeEntry>?> trees = new(StringComparer.Ordinal);
    private Process? batch;
    private BufferedStream? batchOutput;

    private Mirror(string repo, string gitDir)
    {
        Repo = repo;
        GitDir = gitDir;
    }

    public string Repo { get; }

    public string GitDir { get; }

    /// <summary>Finds the mirror of <paramref name="repo"/> (owner/name) under <paramref name="mirrorsRoot"/>: owner+name, else owner+name*.</summary>
    public static Mirror? Open(string mirrorsRoot, string repo)
    {
        if (!Directory.Exists(mirrorsRoot))
        {
            return null;
        }

        var stem = repo.Replace('/', '+');
        var candidates = Directory.GetDirectories(mirrorsRoot, stem + "*")
            .OrderBy(d => string.Equals(Path.GetFileName(d), stem, StringComparison.OrdinalIgnoreCase) ? 0 : 1)
            .ThenBy(d => d, StringComparer.Ordinal);
        foreach (var candidate in candidates)
        {
            if (FindGitDir(candidate, depth: 2) is { } gitDir)
            {
                return new Mirror(repo, gitDir);
            }
        }

        return null;
    }

    private static string? FindGitDir(string directory, int depth)
    {
        if (File.Exists(Path.Combine(directory, "HEAD")) && Directory.Exists(Path.Combine(directory, "objects")))
        {
            return directory;
        }

        if (Directory.Exists(Path.Combine(directory, ".git")))
        {
            return Path.Combine(directory, ".git");
        }

        if (depth == 0)
        {
            return null;
        }

        foreach (var child in Directory.GetDirectories(directory).OrderBy(d => d, StringComparer.Ordinal))
        {
            if (FindGitDir(child, depth - 1) is { } found)
            {
                return found;
            }
        }

        return null;
    }

    /// <summary>The full commit id for a commit-ish, or null when the mirror does not have it.</summary>
    public string? ResolveCommit(string commitish)
    {
        var (exitCode, output) = Git($"rev-parse --verify --quiet {commitish}^{{commit}}");
        return exitCode == 0 ? output.Trim() : null;
    }

    /// <summary>Every blob of the commit's tree, or null when the commit is missing. Listed once per commit.</summary>
    public IReadOnlyList<TreeEntry>? Tree(string commit)
    {
        if (trees.TryGetValue(commit, out var cached))
        {
            return cached;
        }

        var (exitCode, output) = Git($"ls-tree -r -z --full-tree {commit}");
        List<TreeEntry>? entries = null;
        if (exitCode == 0)
        {
            entries = [];
            foreach (var record in output.Split('\0', StringSplitOptions.RemoveEmptyEntries))
            {
                // "<mode> <type> <object>\t<path>"; submodules are commits, not blobs, and have no content here.
                var tab = record.IndexOf('\t', StringComparison.Ordinal);
                var fields = record[..tab].Split(' ');
                if (fields.Length == 3 && fields[1] == "blob")
                {
                    entries.Add(new TreeEntry(record[(tab + 1)..], fields[2]));
                }
            }
        }

        trees[commit] = entries;
        return entries;
    }

    /// <summary>The bytes of one blob, through the shared cat-file process.</summary>
    public byte[] ReadBlob(string blob)
    {
        if (batch is null || batch.HasExited)
        {
            batch?.Dispose();
            batch = Process.Start(Start("cat-file --batch", redirectInput: true)) ?? throw new InvalidOperationException("git could not be started.");
            batch.ErrorDataReceived += (_, _) => { };
            batch.BeginErrorReadLine();
            batchOutput = new BufferedStream(batch.StandardOutput.BaseStream, 1 << 16);
        }

        batch.StandardInput.Write(blob + "\n");
        batch.StandardInput.Flush();
        var header = ReadLine(batchOutput!);
        var fields = header.Split(' ');
        if (fields.Length != 3 || fields[1] != "blob")
        {
            throw new InvalidOperationException($"git cat-file answered '{header}' for {blob} in {GitDir}.");
        }

        var content = new byte[long.Parse(fields[2], System.Globalization.CultureInfo.InvariantCulture)];
        batchOutput!.ReadExactly(content);
        batchOutput.ReadByte(); // the newline after the content
        return content;
    }

    public string ReadText(string blob)
    {
        var bytes = ReadBlob(blob);
        var preamble = Encoding.UTF8.Preamble;
        var offset = bytes.AsSpan().StartsWith(preamble) ? preamble.Length : 0;
        return Encoding.UTF8.GetString(bytes, offset, bytes.Length - offset);
    }

    private static string ReadLine(Stream stream)
    {
        var line = new List<byte>(64);
        for (var b = stream.ReadByte(); b != '\n'; b = stream.ReadByte())
        {
            if (b < 0)
            {
                throw new EndOfStreamException("git cat-file ended early.");
            }

            line.Add((byte)b);
        }

        return Encoding.UTF8.GetString(line.ToArray());
    }

    private ProcessStartInfo Start(string arguments, bool redirectInput = false) => new("git", $"--git-dir=\"{GitDir}\" {arguments}")
    {
        RedirectStandardOutput = true,
        RedirectStandardError = true,
        RedirectStandardInput = redirectInput,
        UseShellExecute = false,
        StandardOutputEncoding = Encoding.UTF8,
    };

    private (int ExitCode, string Output) Git(string arguments)
    {
        using var process = Process.Start(Start(arguments)) ?? throw new InvalidOperationException("git could not be started.");
        var stdout = process.StandardOutput.ReadToEndAsync();
        var stderr = process.StandardError.ReadToEndAsync();
        if (!process.WaitForExit(GitTimeout))
        {
            process.Kill(entireProcessTree: true);
            throw new TimeoutException($"git {arguments} did not finish in {GitTimeout.TotalMinutes} minutes.");
        }

        _ = stderr.Result;
        return (process.ExitCode, stdout.Result);
    }

    public void Dispose()
    {
        if (batch is not null)
        {
            if (!batch.HasExited)
            {
                batch.StandardInput.Close();
                if (!batch.WaitForExit(TimeSpan.FromSeconds(10)))
                {
                    batch.Kill();
                }
            }

            batch.Dispose();
        }
    }
}
