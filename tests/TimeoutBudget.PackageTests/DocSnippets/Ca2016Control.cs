namespace DocSnippets;

// Proves that CA2016 is on in the snippet build: this call drops the caller's token, which is what CA2016 exists to
// catch, so it must be reported here and nowhere in the documented code.
public static class Ca2016Control
{
    public static Task PauseAsync(CancellationToken cancellationToken) => Task.Delay(TimeSpan.FromSeconds(1));
}
