import { createHmac } from 'node:crypto';
import { expect } from 'chai';
import { alertRecord, resolvedCopy } from '../../../collector/alerts/alert.js';
import { dingtalkSign, feishuSign, RobotReceiver } from '../../../collector/alerts/robots.js';
import { receiverSchema, type ReceiverSettings } from '../../../collector/alerts/settings.js';
import { startRecorder, waitFor, type Recorder } from '../../helpers/prom-servers.js';
import { engineFor, internet, MIN, quiet, report, rules, seededRegistry } from './fixtures.js';

const WECOM_KEY = 'k-693a91f6';
const DING_TOKEN = 'tok-98975521';
const DING_SECRET = 'SEC19dd84be8c7f3cf71761974f1ed3ef';
const FEISHU_SECRET = 'nIMtb7r3N9pkXyXdtAbx6e';

/** WeCom's group robot: key in the query, markdown ≤ 4096 bytes, 20 messages a minute (errcode 45009 beyond). */
function wecomAnswer(limitPerMinute: number) {
  const sent: number[] = [];
  return (req: { url?: string }, body: unknown) => {
    const u = new URL(req.url ?? '/', 'http://x');
    if (u.pathname !== '/cgi-bin/webhook/send' || u.searchParams.get('key') !== WECOM_KEY) return { body: { errcode: 93000, errmsg: 'invalid webhook url' } };
    const b = body as { msgtype?: string; markdown?: { content?: string } };
    if (b.msgtype !== 'markdown' || typeof b.markdown?.content !== 'string') return { body: { errcode: 40008, errmsg: 'invalid message type' } };
    if (Buffer.byteLength(b.markdown.content) > 4096) return { body: { errcode: 40058, errmsg: 'markdown.content exceed max length 4096' } };
    const now = Date.now();
    while (sent.length && now - sent[0]! > 60_000) sent.shift();
    if (sent.length >= limitPerMinute) return { body: { errcode: 45009, errmsg: 'api freq out of limit' } };
    sent.push(now);
    return { body: { errcode: 0, errmsg: 'ok' } };
  };
}

/** DingTalk's custom robot with 加签: timestamp (ms, within an hour) and sign = urlencode(base64(HMAC-SHA256(secret, ts\nsecret))). */
function dingAnswer(req: { url?: string }, body: unknown) {
  const u = new URL(req.url ?? '/', 'http://x');
  if (u.pathname !== '/robot/send' || u.searchParams.get('access_token') !== DING_TOKEN) return { body: { errcode: 300001, errmsg: 'token is not exist' } };
  const ts = Number(u.searchParams.get('timestamp'));
  const expected = createHmac('sha256', DING_SECRET).update(`${ts}\n${DING_SECRET}`).digest('base64');
  if (!(Math.abs(Date.now() - ts) < 3_600_000) || u.searchParams.get('sign') !== expected) return { body: { errcode: 310000, errmsg: 'sign not match' } };
  const b = body as { msgtype?: string; markdown?: { title?: string; text?: string } };
  if (b.msgtype !== 'markdown' || !b.markdown?.title || !b.markdown.text) return { body: { errcode: 40035, errmsg: 'missing parameter' } };
  return { body: { errcode: 0, errmsg: 'ok' } };
}

/** Feishu's custom bot with 签名校验: body timestamp (s) and sign = base64(HMAC-SHA256(key ts\nsecret, "")). */
function feishuAnswer(req: { url?: string }, body: unknown) {
  const u = new URL(req.url ?? '/', 'http://x');
  if (!u.pathname.startsWith('/open-apis/bot/v2/hook/')) return { status: 404, body: {} };
  const b = body as { timestamp?: string; sign?: string; msg_type?: string; content?: { text?: string } };
  const expected = createHmac('sha256', `${b.timestamp}\n${FEISHU_SECRET}`).update(Buffer.alloc(0)).digest('base64');
  if (!(Math.abs(Date.now() / 1000 - Number(b.timestamp)) < 3600) || b.sign !== expected) return { body: { code: 19021, msg: 'sign match fail or timestamp is not within one hour from current time' } };
  if (b.msg_type !== 'text' || typeof b.content?.text !== 'string') return { body: { code: 9499, msg: 'Bad Request' } };
  return { body: { code: 0, msg: 'success', data: {} } };
}

function receiver(over: Partial<ReceiverSettings> & Pick<ReceiverSettings, 'name' | 'type' | 'url'>): RobotReceiver {
  return new RobotReceiver({ settings: receiverSchema.parse({ groupWaitS: 0.2, minIntervalS: 1, ...over }), now: Date.now, log: quiet });
}

describe('alerts/robots', function () {
  this.timeout(30_000);
  const { registry, schools } = seededRegistry(4500);
  const county = schools[0]!.county;
  let servers: Recorder[] = [];

  afterEach(async () => {
    await Promise.all(servers.map((s) => s.close()));
    servers = [];
  });

  /** 500 schools of one county dark for an hour: the alerts of one storm. */
  async function storm() {
    const T = Date.now();
    const clock = { now: T - 90 * MIN };
    const e = engineFor(registry, rules('rules:\n  - { id: school-offline, kind: school_offline, forMin: 30 }\n'), clock);
    for (const s of schools) e.onReport(s.id, report(s.id, clock.now, [internet(s.county === county ? 100 : 0)]), clock.now);
    for (const s of schools) if (s.county !== county) e.onReport(s.id, report(s.id, T - MIN, [internet(0)]), T - MIN);
    clock.now = T;
    const r = await e.sweep();
    expect(r.fired).to.have.length(500);
    return { e, r, clock };
  }

  it('dingtalkSign() and feishuSign() compute the documented HMAC-SHA256 signatures', () => {
    expect(encodeURIComponent(dingtalkSign('secret', 1700000000000))).to.equal('OuzzJR5%2BxZ4%2FEYwqtNt6sMYZQMTa%2FHEGvc9miJe7XzY%3D');
    expect(feishuSign('s', 1599360473)).to.equal(createHmac('sha256', '1599360473\ns').update('').digest('base64'));
  });

  it('500 schools going dark in one storm are one message to each of WeCom, DingTalk (signed), Feishu (signed) and a webhook, naming the county', async () => {
    const wecom = await startRecorder(wecomAnswer(20));
    const ding = await startRecorder(dingAnswer);
    const feishu = await startRecorder(feishuAnswer);
    const hook = await startRecorder();
    servers = [wecom, ding, feishu, hook];
    const rx = [
      receiver({ name: 'wecom', type: 'wecom', url: `${wecom.url}/cgi-bin/webhook/send?key=${WECOM_KEY}` }),
      receiver({ name: 'ding', type: 'dingtalk', url: `${ding.url}/robot/send?access_token=${DING_TOKEN}`, secret: DING_SECRET }),
      receiver({ name: 'feishu', type: 'feishu', url: `${feishu.url}/open-apis/bot/v2/hook/5e3d587e`, secret: FEISHU_SECRET }),
      receiver({ name: 'hook', type: 'webhook', url: `${hook.url}/alerts` }),
    ];
    const { r } = await storm();
    for (const x of rx) x.add(r.fired, []);
    await waitFor(() => rx.every((x) => x.backlog === 0), 'every receiver to send', 10_000);
    await new Promise((res) => setTimeout(res, 1500));
    for (const s of servers) expect(s.posts, s.url).to.have.length(1);
    const wecomText = (wecom.posts[0]!.body as { markdown: { content: string } }).markdown.content;
    expect(Buffer.byteLength(wecomText)).to.be.at.most(4096);
    expect(wecomText).to.include(county).and.include('school-offline firing ×500').and.include('离线').and.include('and 480 more');
    expect((ding.posts[0]!.body as { markdown: { text: string } }).markdown.text).to.include('×500');
    expect((feishu.posts[0]!.body as { content: { text: string } }).content.text).to.include('×500');
    const wh = hook.posts[0]!.body as { status: string; alerts: { status: string; labels: Record<string, string>; endsAt: string }[] };
    expect(wh.status).to.equal('firing');
    expect(wh.alerts).to.have.length(500);
    expect(wh.alerts[0]!.labels).to.include({ county, rule: 'school-offline' });
    expect(wh.alerts[0]!.endsAt).to.equal('0001-01-01T00:00:00Z');
    for (const x of rx) await x.stop();
  });

  it('a storm that keeps arriving over several sweeps stays rate-limited: at most one message per minIntervalS, every school told once; a webhook lists maxAlerts and counts the rest in truncatedAlerts', async () => {
    const hook = await startRecorder();
    servers = [hook];
    const rx = receiver({ name: 'hook', type: 'webhook', url: `${hook.url}/a`, groupWaitS: 0.2, minIntervalS: 1, maxAlerts: 150 });
    const { r } = await storm();
    const t0 = Date.now();
    // Five sweeps 300 ms apart, each bringing 100 more schools of the storm.
    for (let k = 0; k < 5; k++) {
      rx.add(r.fired.slice(k * 100, (k + 1) * 100), []);
      await new Promise((res) => setTimeout(res, 300));
    }
    const bodies = () => hook.posts.map((p) => p.body as { truncatedAlerts: number; alerts: { labels: Record<string, string> }[] });
    const toldOf = () => bodies().reduce((n, p) => n + p.alerts.length + p.truncatedAlerts, 0);
    await waitFor(() => toldOf() >= 500, 'the receiver to tell all 500', 10_000);
    const spanS = (Date.now() - t0) / 1000;
    await new Promise((res) => setTimeout(res, 1200));
    const posts = bodies();
    expect(posts.length, `messages in ${spanS.toFixed(1)} s`).to.be.at.least(1).and.at.most(Math.ceil(spanS / 1) + 1);
    expect(posts.length, 'not one message per sweep').to.be.below(5);
    expect(toldOf(), 'every school once').to.equal(500);
    for (const p of posts) expect(p.alerts.length).to.be.at.most(150);
    expect(posts.some((p) => p.truncatedAlerts > 0), 'a message over maxAlerts counts the rest').to.equal(true);
    await rx.stop();
  });

  it('a robot that refuses (WeCom rate limit 45009) keeps all 500 changes for the next send; a DingTalk robot with the wrong secret is refused, not silently dropped', async () => {
    const wecom = await startRecorder(wecomAnswer(0));
    servers = [wecom];
    const rx = receiver({ name: 'wecom', type: 'wecom', url: `${wecom.url}/cgi-bin/webhook/send?key=${WECOM_KEY}`, groupWaitS: 3600 });
    const { r } = await storm();
    rx.add(r.fired, []);
    await rx.flush();
    expect(wecom.posts).to.have.length(1);
    expect(rx.backlog, 'kept after the refusal').to.equal(500);
    await rx.stop();

    const ding = await startRecorder(dingAnswer);
    servers.push(ding);
    const bad = receiver({ name: 'ding', type: 'dingtalk', url: `${ding.url}/robot/send?access_token=${DING_TOKEN}`, secret: 'SECwrong', groupWaitS: 3600 });
    bad.add(r.fired.slice(0, 3), []);
    await bad.flush();
    expect(ding.posts).to.have.length(1);
    expect(bad.backlog).to.equal(3);
    await bad.stop();
  });

  it('an alert that fired and resolved before the message went out is not sent; a resolution after it is sent as resolved', async () => {
    const hook = await startRecorder();
    servers = [hook];
    const rx = receiver({ name: 'hook', type: 'webhook', url: `${hook.url}/a`, groupWaitS: 3600 });
    const { r } = await storm();
    const [a, b] = r.fired;
    rx.add([a!, b!], []);
    rx.add([], [resolvedCopy(a!, Date.now())]);
    await rx.flush();
    const first = hook.posts[0]!.body as { alerts: { labels: Record<string, string> }[] };
    expect(first.alerts.map((x) => x.labels.school)).to.deep.equal([b!.labels.school]);
    rx.add([], [resolvedCopy(b!, Date.now())]);
    await rx.flush();
    const second = hook.posts[1]!.body as { status: string; alerts: { status: string }[] };
    expect(second.status).to.equal('resolved');
    expect(second.alerts.map((x) => x.status)).to.deep.equal(['resolved']);
    await rx.stop();
  });

  it('regions: and minSeverity: filter what a receiver is told (a county official\'s group hears of its county only)', async () => {
    const hook = await startRecorder();
    servers = [hook];
    const other = schools.find((s) => s.county !== county)!.county;
    const rx = receiver({ name: 'hook', type: 'webhook', url: `${hook.url}/a`, regions: [other], groupWaitS: 3600 });
    const { r } = await storm();
    rx.add(r.fired, []);
    expect(rx.backlog).to.equal(0);
    const crit = receiver({ name: 'c', type: 'webhook', url: `${hook.url}/a`, minSeverity: 'critical', groupWaitS: 3600 });
    crit.add([{ ...alertRecord(r.fired[0]!), severity: 'warning', sweep: 0 }], []);
    expect(crit.backlog).to.equal(0);
    await rx.stop();
    await crit.stop();
  });
});
