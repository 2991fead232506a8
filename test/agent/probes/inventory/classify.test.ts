import { expect } from 'chai';
import { classify, compileRules, DEFAULT_RULES, type DeviceFacts } from '../../../../agent/probes/inventory/classify.js';

const rules = compileRules(DEFAULT_RULES);
const f = (over: Partial<DeviceFacts>): DeviceFacts => ({ mac: '00:11:22:33:44:55', capabilities: [], ...over });

describe('agent/probes/inventory/classify', () => {
  it('classify() makes an LLDP WLAN access point an ap whatever its vendor', () => {
    expect(classify(f({ vendor: 'HUAWEI TECHNOLOGIES CO.,LTD', capabilities: ['bridge', 'wlanAccessPoint'] }), rules)).to.equal('ap');
  });

  it('classify() makes LLDP telephones phones, routers routers and bridges switches', () => {
    expect(classify(f({ capabilities: ['bridge', 'telephone'] }), rules)).to.equal('phone');
    expect(classify(f({ capabilities: ['bridge', 'router'] }), rules)).to.equal('router');
    expect(classify(f({ capabilities: ['bridge'] }), rules)).to.equal('switch');
  });

  it('classify() sorts surveillance, classroom display and printer vendors', () => {
    expect(classify(f({ vendor: 'Hangzhou Hikvision Digital Technology Co.,Ltd.' }), rules)).to.equal('camera');
    expect(classify(f({ vendor: 'Zhejiang Dahua Technology Co., Ltd.' }), rules)).to.equal('camera');
    expect(classify(f({ vendor: 'Guangzhou Shiyuan Electronic Technology Company Limited' }), rules)).to.equal('display');
    expect(classify(f({ vendor: 'HiteVision Digital Media Technology Co.,Ltd.' }), rules)).to.equal('display');
    expect(classify(f({ vendor: 'BenQ Corporation' }), rules)).to.equal('display');
    expect(classify(f({ vendor: 'Brother industries, LTD.' }), rules)).to.equal('printer');
    expect(classify(f({ vendor: 'Espressif Inc.' }), rules)).to.equal('iot');
  });

  it('classify() lets sysDescr beat the vendor: an Epson printer is a printer, an Epson projector a display', () => {
    expect(classify(f({ vendor: 'Seiko Epson Corporation', sysDescr: 'EPSON Built-in 11b/g/n Print Server, EPSON WF-C5790 Series' }), rules)).to.equal('printer');
    expect(classify(f({ vendor: 'Seiko Epson Corporation' }), rules)).to.equal('display');
    expect(classify(f({ sysDescr: 'Optoma projector network module' }), rules)).to.equal('display');
  });

  it('classify() returns unknown when nothing matches (a randomised MAC with no LLDP)', () => {
    expect(classify(f({}), rules)).to.equal('unknown');
  });

  it('configured rules run before the defaults and combine their conditions', () => {
    const custom = compileRules([{ class: 'display', vendor: 'Hikvision', name: '^classroom-' }, ...DEFAULT_RULES]);
    const hik = 'Hangzhou Hikvision Digital Technology Co.,Ltd.';
    expect(classify(f({ vendor: hik, name: 'classroom-301' }), custom)).to.equal('display');
    expect(classify(f({ vendor: hik, name: 'gate-cam' }), custom)).to.equal('camera');
  });
});
