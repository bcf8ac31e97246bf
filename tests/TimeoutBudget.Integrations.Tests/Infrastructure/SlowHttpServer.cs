using System.Net;
using System.Net.Sockets;
using System.Text;

namespace TimeoutBudget.Integrations.Tests.Infrastructure;

/// <summary>
/// A real HTTP/1.1 endpoint on 127.0.0.1 (port 0) that reads each request, waits <see cref="Delay"/>, then answers with
/// <see cref="Body"/>. It records when each request arrived and when it ended: answered, or abandoned by the client.
/// </summary>
internal sealed class SlowHttpServer : IAsyncDisposable
{
    private readonly TcpListener _listener = new(IPAddress.Loopback, 0);
    private readonly CancellationTokenSource _stop = new();
    private readonly Task _accepting;
    private readonly List<Task> _connections = new();

    public SlowHttpServer(TimeSpan delay, string body = "{}", string contentType = "application/json")
    {
        Delay = delay;
        Body = body;
        ContentType = contentType;
        _listener.Start();
        _accepting = AcceptAsync();
    }

    public TimeSpan Delay { get; }

    public string Body { get; }

    public string ContentType { get; }

    public int Port => ((IPEndPoint)_listener.LocalEndpoint).Port;

    public Uri Url => new($"http://127.0.0.1:{Port}/");

    /// <summary>Every request: when it arrived, when it ended, and whether the client hung up before the answer.</summary>
    public List<ServedRequest> Requests { get; } = new();

    public TaskCompletionSource FirstRequest { get; } = new(TaskCreationOptions.RunContinuationsAsynchronously);

    public async ValueTask DisposeAsync()
    {
        _stop.Cancel();
        _listener.Stop();
        await _accepting.WaitAsync(TimeSpan.FromSeconds(10)).ContinueWith(_ => { }, TaskScheduler.Default);
        Task[] connections;
        lock (_connections)
        {
            connections = _connections.ToArray();
        }

        await Task.WhenAll(connections).WaitAsync(TimeSpan.FromSeconds(10)).ContinueWith(_ => { }, TaskScheduler.Default);
    }

    private async Task AcceptAsync()
    {
        while (!_stop.IsCancellationRequested)
        {
            TcpClient client;
            try
            {
                client = await _listener.AcceptTcpClientAsync(_stop.Token);
            }
            catch (Exception) when (_stop.IsCancellationRequested)
            {
                return;
            }

            lock (_connections)
            {
                _connections.Add(ServeAsync(client));
            }
        }
    }

    private async Task ServeAsync(TcpClient client)
    {
        using var _ = client;
        var stream = client.GetStream();
        var buffer = new byte[64 * 1024];
        while (!_stop.IsCancellationRequested)
        {
            var request = await ReadRequestAsync(stream, buffer, _stop.Token);
            if (request is null)
            {
                return;
            }

            var served = new ServedRequest(DateTimeOffset.UtcNow, request);
            lock (Requests)
            {
                Requests.Add(served);
            }

            FirstRequest.TrySetResult();

            // Wait for the delay, or until the client hangs up (a read returns 0 bytes).
            using var hangUp = CancellationTokenSource.CreateLinkedTokenSource(_stop.Token);
            var watch = stream.ReadAsync(new byte[1], hangUp.Token).AsTask();
            var delay = Task.Delay(Delay, _stop.Token);
            var first = await Task.WhenAny(watch, delay);
            if (first == watch)
            {
                served.End(DateTimeOffset.UtcNow, abandoned: true);
                return;
            }

            hangUp.Cancel();
            try
            {
                var body = Encoding.UTF8.GetBytes(Body);
                var head = Encoding.ASCII.GetBytes($"HTTP/1.1 200 OK\r\nContent-Type: {ContentType}\r\nContent-Length: {body.Length}\r\nx-amzn-RequestId: test\r\nConnection: close\r\n\r\n");
                await stream.WriteAsync(head);
                await stream.WriteAsync(body);
                served.End(DateTimeOffset.UtcNow, abandoned: false);
            }
            catch (IOException)
            {
                served.End(DateTimeOffset.UtcNow, abandoned: true);
            }

            return;
        }
    }

    private static async Task<string?> ReadRequestAsync(NetworkStream stream, byte[] buffer, CancellationToken stop)
    {
        var total = 0;
        try
        {
            while (total < buffer.Length)
            {
                var read = await stream.ReadAsync(buffer.AsMemory(total), stop);
                if (read == 0)
                {
                    return null;
                }

                total += read;
                var text = Encoding.ASCII.GetString(buffer, 0, total);
                var headerEnd = text.IndexOf("\r\n\r\n", StringComparison.Ordinal);
                if (headerEnd < 0)
                {
                    continue;
                }

                var length = 0;
                foreach (var line in text[..headerEnd].Split("\r\n"))
                {
                    if (line.StartsWith("Content-Length:", StringComparison.OrdinalIgnoreCase))
                    {
                        length = int.Parse(line["Content-Length:".Length..].Trim());
                    }
                }

                if (total >= headerEnd + 4 + length)
                {
                    return text;
                }
            }
        }
        catch (Exception exception) when (exception is IOException or OperationCanceledException)
        {
            return null;
        }

        return null;
    }
}

internal sealed class ServedRequest
{
    private readonly TaskCompletionSource _ended = new(TaskCreationOptions.RunContinuationsAsynchronously);

    public ServedRequest(DateTimeOffset arrived, string text)
    {
        Arrived = arrived;
        Text = text;
    }

    public DateTimeOffset Arrived { get; }

    public string Text { get; }

    public DateTimeOffset? Ended { get; private set; }

    public bool Abandoned { get; private set; }

    public Task EndedTask => _ended.Task;

    public void End(DateTimeOffset at, bool abandoned)
    {
        Ended = at;
        Abandoned = abandoned;
        _ended.TrySetResult();
    }
}
