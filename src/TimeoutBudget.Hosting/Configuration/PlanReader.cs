namespace TimeoutBudget.Hosting;

/// <summary>Turns the bound options into a <see cref="BudgetPlan"/>, collecting every problem with its configuration path.</summary>
internal static class PlanReader
{
    public static void Resolve(TimeoutBudgetHostingOptions options, string sectionPath)
    {
        options.PlanErrors.Clear();
        options.ResolvedPlan = null;
        try
        {
            if (options.Plan is { } inline)
            {
                var errors = new List<string>();
                var root = inline;
                if (!TryDuration(root.Timeout, $"{sectionPath}:Plan:Timeout", allowInfinite: true, errors, out var timeout) | !CheckName(root.Layer, $"{sectionPath}:Plan:Layer", errors))
                {
                    options.PlanErrors.AddRange(errors);
                    return;
                }

                var plan = BudgetPlan.Create(root.Layer!, timeout, builder => Configure(builder, root, $"{sectionPath}:Plan", errors));
                options.PlanErrors.AddRange(errors);
                if (errors.Count == 0)
                {
                    options.ResolvedPlan = plan;
                }
            }
            else if (!string.IsNullOrWhiteSpace(options.PlanFile))
            {
                options.ResolvedPlan = BudgetPlan.Load(options.PlanFile);
            }
        }
        catch (Exception exception) when (exception is FormatException or ArgumentException or IOException or UnauthorizedAccessException)
        {
            options.PlanErrors.Add($"{sectionPath}: {exception.Message}");
        }
    }

    private static void Configure(BudgetPlanBuilder builder, BudgetPlanLayerOptions layer, string path, List<string> errors)
    {
        if (layer.Margin is { } marginText)
        {
            try
            {
                builder.WithMargin(BudgetMargin.Parse(marginText));
            }
            catch (FormatException exception)
            {
                errors.Add($"{path}:Margin: {exception.Message}");
            }
        }

        if (layer.Reserve is not null && TryDuration(layer.Reserve, $"{path}:Reserve", allowInfinite: false, errors, out var reserve))
        {
            builder.WithReserve(reserve);
        }

        if (layer.Retry is { } retry)
        {
            var delay = TimeSpan.Zero;
            TimeSpan? maxDelay = null;
            var ok = retry.Delay is null || TryDuration(retry.Delay, $"{path}:Retry:Delay", false, errors, out delay);
            if (retry.MaxDelay is not null && TryDuration(retry.MaxDelay, $"{path}:Retry:MaxDelay", false, errors, out var cap))
            {
                maxDelay = cap;
            }

            try
            {
                if (ok)
                {
                    builder.WithRetry(new RetrySchedule(retry.MaxAttempts, delay, retry.Backoff, maxDelay));
                }
            }
            catch (ArgumentException exception)
            {
                errors.Add($"{path}:Retry: {exception.Message}");
            }
        }

        for (var i = 0; i < layer.Children.Count; i++)
        {
            var child = layer.Children[i];
            var childPath = $"{path}:Children:{i}";
            var named = CheckName(child.Layer, childPath + ":Layer", errors);
            if (!TryDuration(child.Timeout, childPath + ":Timeout", allowInfinite: true, errors, out var timeout) || !named)
            {
                continue;
            }

            try
            {
                builder.Child(child.Layer!, timeout, c => Configure(c, child, childPath, errors));
            }
            catch (ArgumentException exception)
            {
                errors.Add($"{childPath}: {exception.Message}");
            }
        }
    }

    private static bool CheckName(string? layer, string path, List<string> errors)
    {
        if (string.IsNullOrWhiteSpace(layer))
        {
            errors.Add($"{path}: every layer needs a name.");
            return false;
        }

        return true;
    }

    private static bool TryDuration(string? text, string path, bool allowInfinite, List<string> errors, out TimeSpan value)
    {
        value = TimeSpan.Zero;
        if (string.IsNullOrWhiteSpace(text))
        {
            errors.Add($"{path}: missing; write a duration such as \"30s\"{(allowInfinite ? ", or \"none\" for a layer that really has none" : string.Empty)}.");
            return false;
        }

        try
        {
            value = DurationText.Parse(text, allowInfinite);
            return true;
        }
        catch (FormatException exception)
        {
            errors.Add($"{path}: {exception.Message}");
            return false;
        }
    }
}
