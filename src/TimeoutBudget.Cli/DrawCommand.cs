namespace TimeoutBudget.Cli;

internal static class DrawCommand
{
    public static int Run(FileInfo planFile, FileInfo target, TextWriter output, TextWriter error)
    {
        var extension = target.Extension.ToLowerInvariant();
        if (extension is not (".svg" or ".html" or ".htm"))
        {
            error.WriteLine($"Cannot draw to '{target}': the output must end in .svg or .html.");
            return CliApp.Unusable;
        }

        var file = PlanFile.Read(planFile);
        if (file.Plan is null)
        {
            error.WriteLine(file.ParseError?.Message is { } message ? $"{file.Path}: {message}" : file.IoError);
            return CliApp.Unusable;
        }

        var timeline = Drawing.TimelineBuilder.Build(file.Plan, file.Violations);
        var svg = Drawing.SvgRenderer.Render(timeline);
        var content = extension == ".svg" ? svg : Drawing.HtmlRenderer.Render(timeline, svg, file.Path);
        try
        {
            target.Directory?.Create();
            File.WriteAllText(target.FullName, content);
        }
        catch (Exception exception) when (exception is IOException or UnauthorizedAccessException)
        {
            error.WriteLine($"Cannot write '{target}': {exception.Message}");
            return CliApp.Unusable;
        }

        output.WriteLine($"Drew {timeline.Bars.Count} layer(s) of {file.Path} to {target}" +
                         (file.Violations.Count > 0 ? $" ({file.Violations.Count} violation(s) in red)." : "."));
        return CliApp.Success;
    }
}
