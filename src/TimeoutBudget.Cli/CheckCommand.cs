namespace TimeoutBudget.Cli;

internal static class CheckCommand
{
    public static int Run(FileInfo[] files, string format, TextWriter output, TextWriter error, bool colour)
    {
        var results = new List<PlanFile>(files.Length);
        for (var i = 0; i < files.Length; i++)
        {
            if (colour && files.Length > 1)
            {
                error.Write($"\rchecking {i + 1}/{files.Length} {files[i].Name}".PadRight(60));
            }

            results.Add(PlanFile.Read(files[i]));
        }

        if (colour && files.Length > 1)
        {
            error.Write("\r" + new string(' ', 60) + "\r");
        }

        switch (format)
        {
            case "json":
                Reports.JsonReport.Write(results, output);
                break;
            case "sarif":
                Reports.SarifReport.Write(results, output);
                break;
            default:
                Reports.TextReport.Write(results, output, colour);
                break;
        }

        if (results.Any(r => !r.IsReadable))
        {
            return CliApp.Unusable;
        }

        return results.Any(r => r.Violations.Count > 0) ? CliApp.Violations : CliApp.Success;
    }
}
