// Activations, reductions, slices, batched matmul, layer norm and masked softmax against
// PyTorch 1.13's numbers (CPU, float32): values and gradients within 1e-5. The constants
// below are the output of
//   /usr/bin/python3 autograd/testdata/functions_pytorch.py
// which also defines the inputs: x[i] = sin(0.37 i + 0.1) * scale and the output weights
// w[i] = cos(0.23 i + 0.2) (each in double, rounded to float), a gradient "Dx" being
// d sum(w * f(x)) / dx.
#include <algorithm>
#include <cmath>
#include <cstdint>
#include <functional>
#include <string>
#include <utility>
#include <vector>

#include "autograd/autograd.h"
#include "autograd/test_util.h"
#include "gtest/gtest.h"

namespace gradway {
namespace {

struct SliceCase {
  int64_t start, stop, step;
  std::vector<int64_t> taken;  // the indices x[start:stop:step] takes
};

// ---- Begin of the output of autograd/testdata/functions_pytorch.py.
// Activations of x = formula(13, 4): 13 values in (-4, 4).
const std::vector<float> kLeakyReluY = {
    0.399333656f, 1.81154513f, 2.97857237f, 3.74246407f, 3.99983048f, 3.71583891f,
    2.92892575f, 1.74559629f, 0.326008618f, -0.227540568f, -0.489486307f, -0.685182393f,
    -0.788142204f,
};
const std::vector<float> kLeakyReluDx = {
    0.980066597f, 0.908965766f, 0.789992213f, 0.629412055f, 0.435682446f, 0.219006687f,
    -0.00920354296f, -0.236929044f, -0.452176154f, -0.128721684f, -0.160228714f,
    -0.183296964f, -0.196711466f,
};
const std::vector<float> kEluY = {
    0.399333656f, 1.81154513f, 2.97857237f, 3.74246407f, 3.99983048f, 3.71583891f,
    2.92892575f, 1.74559629f, 0.326008618f, -0.475611806f, -0.639439166f, -0.677236259f,
    -0.686395943f,
};
const std::vector<float> kEluDx = {
    0.980066597f, 0.908965766f, 0.789992213f, 0.629412055f, 0.435682446f, 0.219006687f,
    -0.00920354296f, -0.236929044f, -0.452176154f, -0.14441812f, -0.0485179387f,
    -0.0208626129f, -0.0133803869f,
};
const std::vector<float> kGeluY = {
    0.261633933f, 1.74808991f, 2.97425938f, 3.74212289f, 3.99970365f, 3.71546245f,
    2.92394447f, 1.67500341f, 0.204665303f, -0.145196289f, -0.0176066346f,
    -0.00104979356f, -0.000160191354f,
};
const std::vector<float> kGeluDx = {
    0.786285996f, 1.00444603f, 0.799966395f, 0.630209029f, 0.435902029f, 0.219310477f,
    -0.00933537632f, -0.263305992f, -0.339637965f, 0.0707910061f, 0.0333779901f,
    0.00326061621f, 0.000616408186f,
};
const std::vector<float> kGeluTanhY = {
    0.261626452f, 1.74803245f, 2.97467923f, 3.74223733f, 3.99976015f, 3.71558475f,
    2.92438054f, 1.67489934f, 0.204661846f, -0.145393834f, -0.0171870161f,
    -0.000820987159f, -9.28968948e-05f,
};
const std::vector<float> kGeluTanhDx = {
    0.786216736f, 1.00512624f, 0.79969418f, 0.630028903f, 0.435828596f, 0.219244912f,
    -0.00933261123f, -0.263463467f, -0.339619547f, 0.0706074312f, 0.0337236375f,
    0.00287074572f, 0.000426342682f,
};
const std::vector<float> kSiluY = {
    0.239012197f, 1.55711091f, 2.83439946f, 3.65583682f, 3.92787671f, 3.62756205f,
    2.7803061f, 1.48619461f, 0.189341873f, -0.276168704f, -0.19488059f, -0.107900448f,
    -0.0751253068f,
};
const std::vector<float> kSiluDx = {
    0.680640936f, 0.980089724f, 0.860136569f, 0.668105185f, 0.458629906f, 0.232677698f,
    -0.0100349579f, -0.254047215f, -0.298509628f, -0.0216326732f, 0.0799031258f,
    0.0669095218f, 0.0537309796f,
};
const std::vector<float> kHardSigmoidY = {
    0.566555619f, 0.801924229f, 0.996428728f, 1.0f, 1.0f, 1.0f, 0.988154233f,
    0.790932715f, 0.55433476f, 0.310382873f, 0.0920947418f, 0.0f, 0.0f,
};
const std::vector<float> kHardSigmoidDx = {
    0.163344443f, 0.151494294f, 0.131665379f, 0.0f, 0.0f, 0.0f, -0.0015339239f,
    -0.039488174f, -0.0753626972f, -0.107268065f, -0.133523941f, 0.0f, 0.0f,
};
// Max / min of x = round(formula(15, 2)) as (3, 5): ties; x[7] = NaN.
const std::vector<float> kMaxDim0Values = {
    2.0f, 1.0f, NAN, 2.0f, 2.0f,
};
const std::vector<float> kMaxDim0Indices = {
    1.0f, 0.0f, 1.0f, 0.0f, 0.0f,
};
const std::vector<float> kMaxDim0Dx = {
    0.0f, 0.908965766f, 0.0f, 0.629412055f, 0.435682446f, 0.980066597f, 0.0f,
    0.789992213f, 0.0f, 0.0f, 0.0f, 0.0f, 0.0f, 0.0f, 0.0f,
};
const std::vector<float> kMinDim0Values = {
    -1.0f, -2.0f, NAN, -2.0f, -2.0f,
};
const std::vector<float> kMinDim0Indices = {
    2.0f, 2.0f, 1.0f, 2.0f, 2.0f,
};
const std::vector<float> kMinDim0Dx = {
    0.0f, 0.0f, 0.0f, 0.0f, 0.0f, 0.0f, 0.0f, 0.789992213f, 0.0f, 0.0f, 0.980066597f,
    0.908965766f, 0.0f, 0.629412055f, 0.435682446f,
};
const std::vector<float> kMaxDim1Values = {
    2.0f, NAN, -1.0f,
};
const std::vector<float> kMaxDim1Indices = {
    3.0f, 2.0f, 0.0f,
};
const std::vector<float> kMaxDim1Dx = {
    0.0f, 0.0f, 0.0f, 0.980066597f, 0.0f, 0.0f, 0.0f, 0.908965766f, 0.0f, 0.0f,
    0.789992213f, 0.0f, 0.0f, 0.0f, 0.0f,
};
const std::vector<float> kMinDim1Values = {
    0.0f, NAN, -2.0f,
};
const std::vector<float> kMinDim1Indices = {
    0.0f, 2.0f, 1.0f,
};
const std::vector<float> kMinDim1Dx = {
    0.980066597f, 0.0f, 0.0f, 0.0f, 0.0f, 0.0f, 0.0f, 0.908965766f, 0.0f, 0.0f, 0.0f,
    0.789992213f, 0.0f, 0.0f, 0.0f,
};
// Whole-tensor max / min of round(formula(15, 2)) (no NaN): tied maxima.
const std::vector<float> kMaxAllY = {
    2.0f,
};
const std::vector<float> kMaxAllDx = {
    0.0f, 0.0f, 0.0f, 0.326688856f, 0.326688856f, 0.326688856f, 0.0f, 0.0f, 0.0f, 0.0f,
    0.0f, 0.0f, 0.0f, 0.0f, 0.0f,
};
const std::vector<float> kMinAllY = {
    -2.0f,
};
const std::vector<float> kMinAllDx = {
    0.0f, 0.0f, 0.0f, 0.0f, 0.0f, 0.0f, 0.0f, 0.0f, 0.0f, 0.0f, 0.0f, 0.245016649f,
    0.245016649f, 0.245016649f, 0.245016649f,
};
// Var of x = formula(15, 3) + 5 as (3, 5).
const std::vector<float> kVar0C0Y = {
    3.56807375f, 4.31646633f, 5.10817575f, 5.52908802f, 5.35904121f,
};
const std::vector<float> kVar0C0Dx = {
    -0.0767294019f, 0.624168158f, 1.07337034f, 1.16242695f, 0.908406317f, 1.54846847f,
    1.13199866f, 0.586349487f, 0.0872477368f, -0.210760444f, -1.47173941f, -1.75616634f,
    -1.65972006f, -1.24967444f, -0.697646081f,
};
const std::vector<float> kVar0C1Y = {
    5.35211039f, 6.47469902f, 7.66226387f, 8.29363251f, 8.03856182f,
};
const std::vector<float> kVar0C1Dx = {
    -0.115094103f, 0.936252296f, 1.61005545f, 1.7436403f, 1.36260939f, 2.32270265f,
    1.69799793f, 0.879524231f, 0.130871609f, -0.316140652f, -2.20760894f, -2.63424945f,
    -2.48957992f, -1.8745116f, -1.04646897f,
};
const std::vector<float> kVar1C0Y = {
    0.998069465f, 1.72649062f, 0.165536866f,
};
const std::vector<float> kVar1C0Dx = {
    -0.643025875f, -0.227807611f, 0.115321875f, 0.339921147f, 0.415592134f, 0.599946201f,
    0.385363162f, 0.0626814142f, -0.324425668f, -0.723564744f, 0.230921075f,
    -0.000976475654f, -0.122982666f, -0.118584566f, 0.0116225537f,
};
const std::vector<float> kVar1C1Y = {
    1.24758685f, 2.15811324f, 0.206921086f,
};
const std::vector<float> kVar1C1Dx = {
    -0.803782344f, -0.284759521f, 0.144152343f, 0.424901456f, 0.519490182f, 0.749932766f,
    0.481703937f, 0.0783517659f, -0.405532092f, -0.90445596f, 0.288651347f,
    -0.00122059451f, -0.153728336f, -0.148230717f, 0.0145281926f,
};
// LogSumExp of x = formula(15, 60) as (3, 5) (exp overflows without the shift).
const std::vector<float> kLogSumExp0Y = {
    55.7375832f, 43.9338875f, 44.6785889f, 56.1369591f, 59.9974594f,
};
const std::vector<float> kLogSumExp0Dx = {
    2.43308407e-22f, 4.78039475e-08f, 0.789992213f, 0.629412055f, 0.435682446f,
    0.980066597f, 0.908965766f, 7.33670236e-09f, 3.48914945e-23f, 1.48297176e-34f,
    6.93656753e-41f, 3.63496822e-42f, 1.40129846e-45f, 0.0f, 0.0f,
};
const std::vector<float> kLogSumExp1Y = {
    60.0182991f, 55.7375908f, -36.7114716f,
};
const std::vector<float> kLogSumExp1Dx = {
    3.36562535e-24f, 5.33089079e-15f, 2.13453887e-07f, 0.0202120822f, 0.959853649f,
    0.908958852f, 6.79617142e-06f, 1.32911369e-13f, 7.51234449e-23f, 2.19053108e-32f,
    0.789992213f, 3.33727797e-07f, 1.47834342e-10f, 1.95284677e-10f, 7.40808673e-07f,
};
const std::vector<float> kLogSumExpEdge = {
    -INFINITY, INFINITY, 0.5f,
};
// Batched matmul: a = formula(24, 1) as (2, 1, 3, 4), b = formula(60, 2) as (3, 4, 5)
// (broadcast to (2, 3, 3, 5)); q = formula(24, 1) as (2, 3, 4), k = formula(40, 2) as
// (2, 5, 4): q . k^T.
const std::vector<float> kMatMulBroadcastY = {
    -1.15710902f, -1.00869441f, -0.723757565f, -0.340863705f, 0.0881645679f, 0.513099313f,
    0.784816027f, 0.950311542f, 0.987187207f, 0.890451312f, 1.25015604f, 1.1510154f,
    0.896090269f, 0.519883454f, 0.0733128786f, -0.333205283f, 0.0961352587f, 0.512464166f,
    0.85943377f, 1.09008288f, 0.986600041f, 0.887472153f, 0.668228805f, 0.358543992f,
    0.000331878662f, 0.512118757f, 0.0648020506f, -0.3912853f, -0.794414163f,
    -1.09002256f, 0.864856362f, 1.093014f, 1.17323732f, 1.09466839f, 0.86794126f,
    0.35224247f, -0.00641906261f, -0.364211619f, -0.672710061f, -0.890160084f,
    -0.800979495f, -1.09417796f, -1.23928463f, -1.21665978f, -1.0293659f, -0.286391795f,
    -0.576087117f, -0.787811816f, -0.892909706f, -0.877156556f, -1.30209136f,
    -1.25548494f, -1.03895462f, -0.681806624f, -0.232379317f, 0.0502664447f, 0.348413289f,
    0.599404335f, 0.769268751f, 0.835016131f, -0.893730819f, -0.875720799f, -0.73918587f,
    -0.502605557f, -0.198000252f, -0.67419076f, -0.223608017f, 0.257238984f, 0.703269958f,
    1.05411661f, 0.771470904f, 0.835170865f, 0.785834312f, 0.630138874f, 0.389157116f,
    -0.497494698f, -0.192002833f, 0.139475703f, 0.452076942f, 0.703491628f, 0.710762084f,
    1.05935955f, 1.26457751f, 1.29864085f, 1.15693927f, 0.626386523f, 0.384110451f,
    0.0898467898f, -0.216577172f, -0.493688643f,
};
const std::vector<float> kMatMulBroadcastDa = {
    1.04677701f, 2.94950366f, -2.67248535f, -1.4764812f, 1.62519991f, 2.69595671f,
    -3.11115885f, -0.981147051f, 0.280970931f, -0.746973991f, 0.130747318f, 0.674909115f,
    -1.67781746f, -3.07946205f, 3.37515688f, 1.21914136f, -0.64273715f, -0.00465917587f,
    0.645305395f, -0.351020336f, 1.15271807f, 3.07565522f, -2.84795928f, -1.50591588f,
};
const std::vector<float> kMatMulBroadcastDb = {
    1.40818024f, 0.825317621f, 0.198987961f, -0.437821925f, -1.05157292f, 2.32672596f,
    1.83012438f, 1.23713505f, 0.578989446f, -0.109649986f, 2.93036008f, 2.58723211f,
    2.10784173f, 1.51743722f, 0.84711349f, 3.13738394f, 2.99417019f, 2.69326186f,
    2.25050712f, 1.68922424f, -0.615058839f, 0.0186141133f, 0.651306629f, 1.24969661f,
    1.78226864f, -1.63732421f, -1.0184058f, -0.345850706f, 0.344919324f, 1.01752341f,
    -2.43798566f, -1.91758919f, -1.29619873f, -0.606541157f, 0.115061268f, -2.9086771f,
    -2.55723596f, -2.07111239f, -1.47590923f, -0.802973986f, -0.236101627f, -0.860789299f,
    -1.44014144f, -1.94364548f, -2.34478307f, 0.793419003f, 0.110587001f, -0.57806921f,
    -1.2362802f, -1.8293798f, 1.715554f, 1.06699586f, 0.362241954f, -0.361590207f,
    -1.06637836f, 2.40549707f, 1.87899184f, 1.2535255f, 0.562039375f, -0.159047678f,
};
const std::vector<float> kMatMulTransBY = {
    3.28988671f, 2.94819069f, -2.75525236f, -3.44783711f, 2.13001013f, 2.94819069f,
    5.17897701f, -2.00901818f, -5.54329872f, 1.00377846f, -2.75525236f, -2.00901818f,
    2.39093041f, 2.44259739f, -1.94798183f, -6.23233604f, 0.226839721f, 6.27347183f,
    0.910811961f, -6.10830212f, 1.66565859f, -1.39983737f, -1.91950965f, 1.05174732f,
    2.11023688f, 6.53439188f, -0.480690777f, -6.621562f, -0.720084667f, 6.49097967f,
};
const std::vector<float> kMatMulTransBDa = {
    0.675455928f, 0.98568666f, 1.16250944f, 1.18199229f, 1.21252847f, 1.06556797f,
    0.774387896f, 0.37839812f, 0.315149605f, -0.115144536f, -0.52985388f, -0.872850537f,
    -1.08789611f, -0.821954966f, -0.444766223f, -0.00738057494f, -0.0106027126f,
    0.429006219f, 0.810551167f, 1.08239186f, 1.07923377f, 1.17244232f, 1.10696638f,
    0.891667366f,
};
const std::vector<float> kMatMulTransBDb = {
    0.251545876f, 0.875172913f, 1.3803494f, 1.6987021f, 0.00684651732f, 0.663780272f,
    1.23087442f, 1.63137555f, -0.23821342f, 0.417428076f, 1.01657271f, 1.47812891f,
    -0.470727324f, 0.149091184f, 0.748730898f, 1.24703348f, -0.678449273f, -0.127097934f,
    0.441455543f, 0.950260162f, 1.72422481f, 1.81073332f, 1.65216756f, 1.26998854f,
    1.58034408f, 1.75299692f, 1.68839002f, 1.39526725f, 1.35323095f, 1.60293508f,
    1.63568962f, 1.44706106f, 1.054847f, 1.36845136f, 1.49684215f, 1.42264235f,
    0.700907111f, 1.06189489f, 1.27916002f, 1.3232969f,
};
// Layer norm of x = formula(42, 2) as (2, 3, 7) over its last axis, gamma =
// formula(7, 1.5), beta = formula(7, 0.5), epsilon 1e-3.
const std::vector<float> kLayerNormY = {
    -0.250693887f, -0.333924651f, 0.542479217f, 1.57930923f, 2.01116633f, 1.53700686f,
    0.487776577f, 0.309780896f, 0.937122524f, 0.747127235f, 0.0463886298f, -0.662928402f,
    -0.964109063f, -0.750042021f, -0.17060256f, -0.501331091f, -0.233355328f,
    0.528145909f, 1.40776205f, 1.95311487f, 1.87043619f, 0.22630015f, 0.939947248f,
    1.15983522f, 0.732782245f, -0.142819017f, -1.01739085f, -1.42418969f, -0.0403077677f,
    -0.405147761f, -0.645478129f, -0.303348392f, 0.659759581f, 1.81334972f, 2.47317195f,
    -0.14805612f, 0.247430652f, 1.38400805f, 2.12964058f, 1.74246573f, 0.306457818f,
    -1.29645479f,
};
const std::vector<float> kLayerNormDx = {
    -0.143529192f, 0.383891523f, 0.611926019f, 0.472367823f, 0.0399077237f, -0.490969419f,
    -0.873594582f, 0.00757575035f, 0.0591519475f, -0.0154158473f, -0.118119508f,
    -0.143790036f, -0.0254001617f, 0.235998243f, 0.370668948f, -0.0268469155f,
    -0.263801605f, -0.295997053f, -0.1515387f, 0.0811595917f, 0.286355942f, -0.348522663f,
    -0.124045253f, 0.135566473f, 0.315530777f, 0.312651277f, 0.0763658285f, -0.367546618f,
    -0.496290326f, -0.0610089228f, 0.203129694f, 0.250004232f, 0.135177687f,
    -0.00808440894f, -0.0229286626f, 1.32511926f, 1.24654794f, 0.667303205f,
    -0.117774636f, -0.798412323f, -1.1616621f, -1.16112101f,
};
const std::vector<float> kLayerNormDgamma = {
    -0.649412096f, -0.53247267f, -0.507782161f, -0.448271215f, -0.246431589f,
    0.142789617f, 0.681847811f,
};
const std::vector<float> kLayerNormDbeta = {
    0.645207405f, 0.350703597f, 0.0377292037f, -0.27723217f, -0.577592611f, -0.847532749f,
    -1.07283592f,
};
// Masked softmax of x = formula(30, 3) as (2, 3, 5): keys 0-2 of sample 0 and none of
// sample 1 kept (mask (2, 1, 5)), then also causally. PyTorch gives NaN for a row
// that keeps nothing (value and gradient), gradway 0: written as 0.
const std::vector<float> kMaskedSoftmaxPaddingY = {
    0.0925579965f, 0.26693204f, 0.640509903f, 0.0f, 0.0f, 0.561044157f, 0.310944647f,
    0.128011197f, 0.0f, 0.0f, 0.553604007f, 0.265758872f, 0.180637106f, 0.0f, 0.0f, 0.0f,
    0.0f, 0.0f, 0.0f, 0.0f, 0.0f, 0.0f, 0.0f, 0.0f, 0.0f, 0.0f, 0.0f, 0.0f, 0.0f, 0.0f,
};
const std::vector<float> kMaskedSoftmaxPaddingDx = {
    0.0130250985f, 0.0185845606f, -0.0316096358f, 0.0f, 0.0f, 0.0725573897f,
    -0.030747639f, -0.0418097489f, 0.0f, 0.0f, 0.0352112316f, -0.013749728f,
    -0.0214615054f, 0.0f, 0.0f, 0.0f, 0.0f, 0.0f, 0.0f, 0.0f, 0.0f, 0.0f, 0.0f, 0.0f,
    0.0f, 0.0f, 0.0f, 0.0f, 0.0f, 0.0f,
};
const std::vector<float> kMaskedSoftmaxCausalY = {
    1.0f, 0.0f, 0.0f, 0.0f, 0.0f, 0.643407524f, 0.356592476f, 0.0f, 0.0f, 0.0f,
    0.553604007f, 0.265758872f, 0.180637106f, 0.0f, 0.0f, 0.0f, 0.0f, 0.0f, 0.0f, 0.0f,
    0.0f, 0.0f, 0.0f, 0.0f, 0.0f, 0.0f, 0.0f, 0.0f, 0.0f, 0.0f,
};
const std::vector<float> kMaskedSoftmaxCausalDx = {
    0.0f, 0.0f, 0.0f, 0.0f, 0.0f, 0.0523592532f, -0.0523592457f, 0.0f, 0.0f, 0.0f,
    0.0352112316f, -0.013749728f, -0.0214615054f, 0.0f, 0.0f, 0.0f, 0.0f, 0.0f, 0.0f,
    0.0f, 0.0f, 0.0f, 0.0f, 0.0f, 0.0f, 0.0f, 0.0f, 0.0f, 0.0f, 0.0f,
};
// Slices of an axis of size 5: (start, stop, step) -> the indices taken.
const std::vector<SliceCase> kSliceCases = {
    {1, 4, 1, {1, 2, 3}},
    {-3, 5, 1, {2, 3, 4}},
    {-7, 2, 1, {0, 1}},
    {3, 100, 1, {3, 4}},
    {4, 2, 1, {}},
    {0, 5, 2, {0, 2, 4}},
    {-4, -1, 2, {1, 3}},
    {1, 5, 3, {1, 4}},
    {6, 9, 1, {}},
    {-100, -4, 1, {0}},
};
// ---- End of the output of autograd/testdata/functions_pytorch.py.

// sin(0.37 i + 0.1) * scale for i < n, rounded to a whole number (half to even, as
// Python's round) when `rounded`, then to float.
Tensor Formula(int64_t n, double scale, bool rounded = false) {
  Tensor t = Tensor::Empty({n});
  for (int64_t i = 0; i < n; ++i) {
    const double v = std::sin(0.37 * static_cast<double>(i) + 0.1) * scale;
    t.data()[i] = static_cast<float>(rounded ? std::nearbyint(v) : v);
  }
  return t;
}

// The output weights w[i] = cos(0.23 i + 0.2), of `shape`.
Tensor Weights(const Shape& shape) {
  Tensor w = Tensor::Empty(shape);
  for (int64_t i = 0; i < w.numel(); ++i) {
    w.data()[i] = static_cast<float>(std::cos(0.23 * static_cast<double>(i) + 0.2));
  }
  return w;
}

// Within 1e-5; NaN matches NaN, an infinity itself.
void ExpectNear(const Tensor& got, const std::vector<float>& want, const std::string& what) {
  ASSERT_EQ(got.numel(), static_cast<int64_t>(want.size())) << what;
  const std::vector<float> g = got.ToVector();
  for (size_t i = 0; i < want.size(); ++i) {
    if (std::isnan(want[i]) || std::isinf(want[i])) {
      EXPECT_TRUE(std::isnan(want[i]) ? std::isnan(g[i]) : g[i] == want[i])
          << what << " at " << i << ": " << g[i] << " instead of " << want[i];
    } else {
      EXPECT_NEAR(g[i], want[i], 1e-5)
          << what << " at " << i;
    }
  }
}

// f(x) and d sum(w * f(x)) / dx.
std::pair<Tensor, Tensor> ValueAndGrad(const std::function<Tensor(const Tensor&)>& f,
                                       const Tensor& x) {
  Tensor leaf = x.Clone();
  leaf.SetRequiresGrad();
  const Tensor y = f(leaf);
  Sum(Mul(y, Weights(y.shape()))).Backward();
  return {y, leaf.grad()};
}

void ExpectValueAndGrad(const std::function<Tensor(const Tensor&)>& f, const Tensor& x,
                        const std::vector<float>& y, const std::vector<float>& dx,
                        const std::string& what) {
  const auto [got_y, got_dx] = ValueAndGrad(f, x);
  ExpectNear(got_y, y, what + " value");
  ExpectNear(got_dx, dx, what + " gradient");
}

TEST(FunctionsPyTorchTest, Activations) {
  const Tensor x = Formula(13, 4);
  ExpectValueAndGrad([](const Tensor& t) { return LeakyRelu(t, 0.2f); }, x, kLeakyReluY,
                     kLeakyReluDx, "leaky_relu");
  ExpectValueAndGrad([](const Tensor& t) { return Elu(t, 0.7f); }, x, kEluY, kEluDx, "elu");
  ExpectValueAndGrad([](const Tensor& t) { return Gelu(t); }, x, kGeluY, kGeluDx, "gelu");
  ExpectValueAndGrad([](const Tensor& t) { return Gelu(t, /*approximate=*/true); }, x,
                     kGeluTanhY, kGeluTanhDx, "gelu tanh");
  ExpectValueAndGrad(Silu, x, kSiluY, kSiluDx, "silu");
  ExpectValueAndGrad(HardSigmoid, x, kHardSigmoidY, kHardSigmoidDx, "hard_sigmoid");
}

TEST(FunctionsPyTorchTest, MaxMinOverAnAxisWithTiesAndNaN) {
  Tensor x = Formula(15, 2, /*rounded=*/true);
  x.data()[7] = NAN;
  x = x.Reshape({3, 5});
  struct Case {
    int axis;
    bool max;
    const std::vector<float>& values;
    const std::vector<float>& indices;
    const std::vector<float>& dx;
  };
  const Case cases[] = {
      {0, true, kMaxDim0Values, kMaxDim0Indices, kMaxDim0Dx},
      {0, false, kMinDim0Values, kMinDim0Indices, kMinDim0Dx},
      {1, true, kMaxDim1Values, kMaxDim1Indices, kMaxDim1Dx},
      {1, false, kMinDim1Values, kMinDim1Indices, kMinDim1Dx},
  };
  for (const Case& c : cases) {
    const std::string what = std::string(c.max ? "max" : "min") + " axis " +
                             std::to_string(c.axis);
    Tensor indices;
    const auto [values, dx] = ValueAndGrad(
        [&](const Tensor& t) {
          ValuesIndices r = c.max ? Max(t, c.axis) : Min(t, c.axis);
          indices = r.indices;
          return r.values;
        },
        x);
    ExpectNear(values, c.values, what + " values");
    EXPECT_EQ(indices.ToVector(), c.indices) << what;
    ExpectNear(dx, c.dx, what + " gradient");
  }
}

TEST(FunctionsPyTorchTest, WholeTensorMaxMinShareTheGradientAmongTies) {
  const Tensor x = Formula(15, 2, /*rounded=*/true);
  ExpectValueAndGrad([](const Tensor& t) { return Max(t); }, x, kMaxAllY, kMaxAllDx, "max");
  ExpectValueAndGrad([](const Tensor& t) { return Min(t); }, x, kMinAllY, kMinAllDx, "min");
}

TEST(FunctionsPyTorchTest, VarPopulationAndUnbiased) {
  const Tensor x = AddScalar(Formula(15, 3), 5.f).Reshape({3, 5});
  ExpectValueAndGrad([](const Tensor& t) { return Var(t, 0); }, x, kVar0C0Y, kVar0C0Dx,
                     "var axis 0");
  ExpectValueAndGrad([](const Tensor& t) { return Var(t, 0, false, 1); }, x, kVar0C1Y,
                     kVar0C1Dx, "var axis 0 unbiased");
  ExpectValueAndGrad([](const Tensor& t) { return Var(t, 1); }, x, kVar1C0Y, kVar1C0Dx,
                     "var axis 1");
  ExpectValueAndGrad([](const Tensor& t) { return Var(t, -1, false, 1); }, x, kVar1C1Y,
                     kVar1C1Dx, "var axis 1 unbiased");
}

TEST(FunctionsPyTorchTest, LogSumExpIsStable) {
  const Tensor x = Formula(15, 60).Reshape({3, 5});
  ExpectValueAndGrad([](const Tensor& t) { return LogSumExp(t, 0); }, x, kLogSumExp0Y,
                     kLogSumExp0Dx, "logsumexp axis 0");
  ExpectValueAndGrad([](const Tensor& t) { return LogSumExp(t, 1); }, x, kLogSumExp1Y,
                     kLogSumExp1Dx, "logsumexp axis 1");
  const float inf = INFINITY;
  const Tensor edge = Tensor::FromVector({-inf, -inf, -inf, 1, inf, 2, -inf, 0.5f, -inf}, {3, 3});
  ExpectNear(LogSumExp(edge, 1), kLogSumExpEdge, "logsumexp of infinities");
}

TEST(FunctionsPyTorchTest, BatchedMatMulBroadcastAndTransposed) {
  struct Case {
    const char* what;
    Tensor a, b;
    bool tb;
    const std::vector<float>&y, &da, &db;
  };
  const Case cases[] = {
      {"broadcast", Formula(24, 1).Reshape({2, 1, 3, 4}), Formula(60, 2).Reshape({3, 4, 5}),
       false, kMatMulBroadcastY, kMatMulBroadcastDa, kMatMulBroadcastDb},
      {"q · kᵀ", Formula(24, 1).Reshape({2, 3, 4}), Formula(40, 2).Reshape({2, 5, 4}), true,
       kMatMulTransBY, kMatMulTransBDa, kMatMulTransBDb},
  };
  for (const Case& c : cases) {
    Tensor a = c.a.Clone(), b = c.b.Clone();
    a.SetRequiresGrad(true);
    b.SetRequiresGrad(true);
    Tensor y = MatMul(a, b, false, c.tb);
    Sum(Mul(y, Weights(y.shape()))).Backward();
    ExpectNear(y, c.y, std::string(c.what) + " value");
    ExpectNear(a.grad(), c.da, std::string(c.what) + " gradient of a");
    ExpectNear(b.grad(), c.db, std::string(c.what) + " gradient of b");
  }
}

TEST(FunctionsPyTorchTest, LayerNormOverTheLastAxis) {
  Tensor x = Formula(42, 2).Reshape({2, 3, 7}), gamma = Formula(7, 1.5), beta = Formula(7, 0.5);
  for (Tensor* t : {&x, &gamma, &beta}) t->SetRequiresGrad(true);
  Tensor y = LayerNorm(x, gamma, beta, 1e-3f);
  Sum(Mul(y, Weights(y.shape()))).Backward();
  ExpectNear(y, kLayerNormY, "layer_norm value");
  ExpectNear(x.grad(), kLayerNormDx, "layer_norm gradient of x");
  ExpectNear(gamma.grad(), kLayerNormDgamma, "layer_norm gradient of gamma");
  ExpectNear(beta.grad(), kLayerNormDbeta, "layer_norm gradient of beta");
}

TEST(FunctionsPyTorchTest, MaskedSoftmaxPaddingAndCausal) {
  const Tensor mask = Tensor::FromVector({1, 1, 1, 0, 0, 0, 0, 0, 0, 0}, {2, 1, 5});
  const Tensor x = Formula(30, 3).Reshape({2, 3, 5});
  ExpectValueAndGrad([&](const Tensor& t) { return MaskedSoftmax(t, mask); }, x,
                     kMaskedSoftmaxPaddingY, kMaskedSoftmaxPaddingDx, "padding mask");
  ExpectValueAndGrad([&](const Tensor& t) { return MaskedSoftmax(t, mask, true); }, x,
                     kMaskedSoftmaxCausalY, kMaskedSoftmaxCausalDx, "padding and causal");
}

TEST(FunctionsPyTorchTest, SliceTakesPythonsIndices) {
  // x (2, 5, 3), sliced along its axis of size 5.
  const Tensor x = Formula(30, 1).Reshape({2, 5, 3});
  for (const SliceCase& c : kSliceCases) {
    SCOPED_TRACE("[" + std::to_string(c.start) + ":" + std::to_string(c.stop) + ":" +
                 std::to_string(c.step) + "]");
    const Tensor y = Slice(x, 1, c.start, c.stop, c.step);
    const int64_t n = static_cast<int64_t>(c.taken.size());
    ASSERT_EQ(y.shape(), (Shape{2, n, 3}));
    for (int64_t o = 0; o < 2; ++o) {
      for (int64_t j = 0; j < n; ++j) {
        for (int64_t i = 0; i < 3; ++i) {
          EXPECT_EQ(y.at({o, j, i}), x.at({o, c.taken[j], i}));
        }
      }
    }
  }
}

}  // namespace
}  // namespace gradway
