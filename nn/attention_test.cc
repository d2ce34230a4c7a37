// MultiHeadAttention: PyTorch's nn.MultiheadAttention numbers (outputs and the inputs'
// gradients within 1e-5, with a padding mask and a causal one) given the same weights in
// Keras' layouts; Keras' weight names and shapes; masking, dropout, errors; training in a
// functional model; the gradient check.
#include "nn/attention.h"

#include <cmath>
#include <functional>
#include <memory>
#include <string>
#include <vector>

#include "autograd/autograd.h"
#include "gtest/gtest.h"
#include "nn/nn.h"
#include "nn/test_util.h"

namespace gradway {
namespace nn {
namespace {

using testing::CosineWeights;
using testing::ErrorOf;
using testing::ExpectNear;
using testing::Leaf;

// ---- Begin of the output of nn/testdata/attention_pytorch.py.
const std::vector<float> kQueryKernel = {
    0.194709167f, 0.129309669f, -0.398763657f, 0.499951124f, -0.390173972f, 0.11575491f,
    0.207509309f, -0.443210721f, 0.325916886f, -0.0241942219f, -0.287737697f,
    0.478252769f, -0.466959298f, 0.258622766f, 0.0588449389f, -0.351481825f, 0.426054001f,
    -0.175391614f, -0.149280876f, 0.410961241f, -0.49922806f, 0.376835406f,
    -0.0954292938f, -0.22624515f, 0.485574186f, -0.309868425f, 0.00340732001f,
    0.30449158f, -0.483904004f, 0.459123224f, -0.240605965f, -0.0794398934f, 0.498803198f,
    -0.414804578f, 0.155770674f, 0.16899386f, -0.422447979f, 0.497641504f, -0.362845004f,
    0.0749386027f, 0.464479864f, -0.480196238f, 0.293283969f, 0.0173854753f,
    -0.320718765f, 0.488718212f, -0.450492978f, 0.22217299f, 0.385876328f, -0.499809414f,
    0.402837664f, -0.135880306f, -0.188414529f, 0.433203995f, -0.495194167f, 0.348226994f,
    0.270486116f, -0.47177434f, 0.473987699f, -0.276192248f, -0.0381481983f, 0.33639124f,
    -0.492687076f, 0.441083521f,
};
const std::vector<float> kQueryBias = {
    0.0591040403f, 0.169366375f, 0.197777957f, 0.130608156f, 0.000318530598f,
    -0.130125031f, -0.197682247f, -0.169704333f,
};
const std::vector<float> kKeyKernel = {
    0.491890281f, -0.33300665f, 0.033604037f, 0.279978484f, -0.475418359f, 0.470245689f,
    -0.266643226f, -0.0494748279f, 0.495803744f, -0.430911124f, 0.184186697f,
    0.140259072f, -0.405519634f, 0.499662906f, -0.382963151f, 0.104664229f, 0.452450812f,
    -0.487735569f, 0.317210317f, -0.0128316497f, -0.296961606f, 0.481445789f,
    -0.462774098f, 0.248825356f, 0.365964472f, -0.498062819f, 0.419993371f, -0.164699093f,
    -0.160093337f, 0.4173311f, -0.498467445f, 0.369265229f, 0.244589671f, -0.460908324f,
    0.482737243f, -0.300865293f, -0.00796293095f, 0.313431054f, -0.486640483f,
    0.454502016f, 0.0998974368f, -0.379814088f, 0.499460399f, -0.408349156f, 0.144926608f,
    0.179650694f, -0.428420693f, 0.496409804f, -0.0543182977f, -0.262511104f,
    0.468568563f, -0.476903915f, 0.28399989f, 0.0287437383f, -0.329358339f, 0.49099344f,
    -0.203355715f, -0.120182194f, 0.393006772f, -0.499994069f, 0.395998627f, -0.12490344f,
    -0.198897317f, 0.438769281f,
};
const std::vector<float> kKeyBias = {
    -0.0597123466f, 0.0791371986f, 0.179741621f, 0.193481177f, 0.113715887f,
    -0.021005597f, -0.145575568f, -0.19979234f,
};
const std::vector<float> kValueKernel = {
    0.344715953f, -0.49449712f, 0.435615093f, -0.192916334f, -0.131187424f, 0.399933964f,
    -0.49992016f, 0.388954788f, 0.217799887f, -0.448358893f, 0.489723653f, -0.324439496f,
    0.0222514197f, 0.289326102f, -0.478816509f, 0.466260493f, 0.0701203421f,
    -0.359477311f, 0.497145474f, -0.425032884f, 0.173568979f, 0.151135936f, -0.412065923f,
    0.499116272f, -0.084243983f, -0.236325741f, 0.45717299f, -0.485106707f, 0.308339715f,
    -0.00146244245f, -0.306031913f, 0.484389842f, -0.230577081f, -0.0906445682f,
    0.373616904f, -0.498933911f, 0.413715512f, -0.153921396f, -0.170823023f, 0.42348516f,
    -0.354928613f, 0.0636780187f, 0.254442841f, -0.465196311f, 0.479650676f,
    -0.291706592f, -0.0193290655f, 0.322208434f, -0.445443779f, 0.211929992f,
    0.111012004f, -0.387110204f, 0.499859333f, -0.401682556f, 0.134007588f, 0.190214634f,
    -0.493493527f, 0.339978069f, -0.0430019088f, -0.27211979f, 0.47241497f, -0.473364979f,
    0.274568915f, 0.0400871374f,
};
const std::vector<float> kValueBias = {
    -0.157454208f, -0.0390221998f, 0.0982683077f, 0.188068077f, 0.186979011f,
    0.0955274254f, -0.0420902893f, -0.159366772f,
};
const std::vector<float> kOutputKernel = {
    0.356482953f, -0.394071102f, 0.396828085f, -0.364510149f, 0.299973845f, -0.208923429f,
    0.0994066671f, 0.0188964736f, 0.399667174f, -0.386800557f, 0.339745343f,
    -0.262660682f, 0.162359953f, -0.0477085225f, -0.0711597726f, 0.183738396f,
    0.370084614f, -0.309105784f, 0.220805705f, -0.112989008f, -0.00481457636f,
    0.122192606f, -0.228770256f, 0.315127343f, 0.273121297f, -0.175132602f, 0.061664287f,
    0.0572544262f, -0.171112522f, 0.26984632f, -0.344728887f, 0.38914153f, 0.126431182f,
    -0.00927329157f, -0.108704254f, 0.217073634f, -0.306256264f, 0.36836952f,
    -0.397923261f, 0.392305285f, -0.0432780534f, 0.158274397f, -0.259281158f,
    0.337370574f, -0.385640413f, 0.399824202f, -0.378668308f, 0.324042618f, -0.205107719f,
    0.297005296f, -0.362651139f, 0.396242946f, -0.394811571f, 0.358483523f, -0.290469795f,
    0.196782008f, -0.329593748f, 0.381660908f, -0.399993777f, 0.382971972f, -0.332099974f,
    0.251874298f, -0.149385899f, 0.0336935818f,
};
const std::vector<float> kOutputBias = {
    0.0479425527f, 0.0985449702f, 0.0745705217f, -0.00583741441f, -0.0818277076f,
    -0.0958924294f, -0.0373876654f, 0.0494113341f,
};
// Cross-attention with key padding.
const std::vector<float> kCrossQuery = {
    0.099833414f, 0.452886283f, 0.744643092f, 0.935616016f, 0.999957621f, 0.928959727f,
    0.732231438f, 0.436399072f, 0.0815021545f, -0.284425706f, -0.611857891f,
    -0.856477976f, -0.985177755f, -0.980538368f, -0.843187749f, -0.591715574f,
    -0.260157496f, 0.106611691f, 0.458951473f, 0.749174356f, 0.937999964f, 0.999871731f,
    0.926415503f, 0.727573276f, 0.430257469f, 0.0747082904f, -0.290952295f, -0.617233872f,
    -0.859975696f, -0.986323893f, -0.979177713f, -0.83950448f, -0.586208224f,
    -0.253571451f, 0.113385022f, 0.464995384f, 0.753670812f, 0.9403404f, 0.999739349f,
    0.923828244f, 0.722881377f, 0.424095839f, 0.0679109618f, -0.297465354f, -0.622581124f,
    -0.86343348f, -0.987424135f, -0.97777158f,
};
const std::vector<float> kCrossKey = {
    0.64421767f, 0.94248879f, 0.98215431f, 0.752330601f, 0.316077977f, -0.206901968f,
    -0.673110962f, -0.954627752f, -0.974208236f, -0.726479769f, -0.279415488f,
    0.244316429f, 0.70101136f, 0.965358734f, 0.964825273f, 0.699557424f, 0.242340907f,
    -0.281370521f, -0.727877855f, -0.974665821f, -0.954019248f, -0.671603262f,
    -0.204908878f, 0.318009615f, 0.753670812f, 0.982535362f, 0.941806078f, 0.642658591f,
    0.167174622f, -0.35417968f, -0.778352082f, -0.988955677f, -0.928203821f,
    -0.612765968f, -0.129193798f, 0.389827341f, 0.801885366f, 0.993917346f, 0.913232505f,
    0.581969559f, 0.0910224169f, -0.424899995f, -0.824235857f, -0.997413099f,
    -0.896914244f, -0.550314784f, -0.0527167805f, 0.459345996f, 0.84537071f, 0.99943769f,
    0.879273057f, 0.517848372f, 0.0143333916f, -0.493114471f, -0.865258694f,
    -0.999988139f, -0.860334992f, -0.484618127f, 0.0240711384f, 0.526155591f,
    0.883870423f, 0.999063671f, 0.840128005f, 0.450673074f, -0.0624401644f, -0.558420718f,
    -0.901178539f, -0.996665657f, -0.818681896f, -0.416063339f, 0.100717098f,
    0.589862168f, 0.917157412f, 0.992797613f, 0.796028197f, 0.380839914f, -0.138845474f,
    -0.620433629f, -0.931783557f, -0.987465262f,
};
const std::vector<float> kCrossValue = {
    1.4453373f, 1.49972343f, 1.42886424f, 1.2386775f, 0.945045948f, 0.572491467f,
    0.152126983f, -0.280941993f, -0.690548897f, -1.04248643f, -1.30736363f, -1.46306002f,
    -1.49657285f, -1.40510356f, -1.19629097f, -0.887573361f, -0.504732549f,
    -0.0797403529f, 0.351911128f, 0.754173696f, 1.09345353f, 1.3414166f, 1.477355f,
    1.48991609f, 1.37805104f, 1.15110171f, 0.828021407f, 0.435791105f, 0.00716691371f,
    -0.422055781f, -0.816031694f, -1.14185894f, -1.37232697f, -1.48818886f, -1.47976875f,
    -1.34776986f, -1.10321569f, -0.7665295f, -0.365828663f, 0.0654233173f, 0.491211653f,
    0.875977814f, 1.18758905f, 1.40002215f, 1.49553621f, 1.46615458f, 1.31433117f,
    1.05274498f, 0.703241765f, 0.295009166f, -0.137860268f, -0.559216738f, -0.933871686f,
    -1.23053694f, -1.42443728f, -1.49937975f, -1.4491055f, -1.27781332f, -0.999807954f,
    -0.638306439f, -0.223498538f, 0.209974259f, 0.625911593f, 0.989577711f, 1.27060187f,
    1.44551528f, 1.49971044f, 1.42866147f, 1.23830163f, 0.94452858f, 0.571875751f,
    0.151464283f, -0.281596303f, -0.691140115f, -1.04296529f, -1.30769014f, -1.46320677f,
    -1.49652767f, -1.40487027f, -1.195889f,
};
const std::vector<float> kCrossY = {
    -0.21797049f, 0.418324411f, -0.270810664f, 0.334617913f, -0.387265027f, 0.14752984f,
    -0.197279125f, 0.111639537f, -0.617490232f, 0.922769189f, -0.835593581f, 0.909818888f,
    -0.922042906f, 0.59461683f, -0.517158151f, 0.276036829f, -0.200492322f, 0.40918684f,
    -0.270821214f, 0.343775839f, -0.404760718f, 0.171816885f, -0.226210952f, 0.1426588f,
    -1.06461513f, 1.39820302f, -1.29731357f, 1.31701469f, -1.23872316f, 0.79279083f,
    -0.579309404f, 0.19667238f, 0.450317025f, -0.32039386f, 0.473044395f, -0.348626047f,
    0.174977183f, -0.244015202f, -0.0110394172f, 0.147166461f, -1.04947329f, 1.38223684f,
    -1.28193438f, 1.30358171f, -1.22842395f, 0.786535501f, -0.577650964f, 0.199757159f,
};
const std::vector<float> kCrossDQuery = {
    0.00317018712f, 5.07747172e-05f, -0.00307347812f, -0.00590472762f, -0.00817306247f,
    -0.00966223609f, -0.0102302805f, -0.00982304383f, 0.0466134921f, 0.0340939201f,
    0.0183240827f, 0.000807350036f, -0.0167863481f, -0.0327797532f, -0.0456481688f,
    -0.0541648157f, -6.11692667e-06f, 0.00297664781f, 0.00567564042f, 0.00783355813f,
    0.00924467947f, 0.00977448002f, 0.00937245041f, 0.00807691924f, -0.00213975413f,
    2.17532215e-05f, 0.00218118727f, 0.00413268153f, 0.00569019606f, 0.00670524919f,
    0.00708106952f, 0.00678183278f, 0.0448889956f, 0.0491520092f, 0.0487292223f,
    0.0436609462f, 0.0344303362f, 0.0219173916f, 0.00731499493f, -0.00798475556f,
    -1.50873093e-05f, -0.00521016167f, -0.00990853645f, -0.0136623029f, -0.0161135998f,
    -0.0170287434f, -0.0163204893f, -0.0140563548f,
};
const std::vector<float> kCrossDKey = {
    -0.0282038916f, -0.0257817544f, -0.0209017694f, -0.014029162f, -0.00581911113f,
    0.002945696f, 0.0114296796f, 0.0188240409f, 0.0129077192f, 0.0155978547f,
    0.0168010145f, 0.0164024755f, 0.0144402403f, 0.0111013837f, 0.00670419307f,
    0.00166787487f, -0.0228709579f, -0.0274673402f, -0.0294451918f, -0.0286159366f,
    -0.0250586458f, -0.019112451f, -0.0113442056f, -0.00249448372f, 0.02964928f,
    0.0276009459f, 0.0229213387f, 0.0160565767f, 0.00766108697f, -0.00146475155f,
    -0.0104509536f, -0.0184408333f, 0.00851783901f, 0.0100502772f, 0.0106245913f,
    0.010186038f, 0.00877642073f, 0.00653011631f, 0.00366128027f, 0.000443405006f,
    -0.00260994886f, -0.00468933256f, -0.00632166769f, -0.00735134119f, -0.00768019026f,
    -0.00727686379f, -0.00617981423f, -0.0044936249f, 0.035584636f, 0.0449676774f,
    0.0500638224f, 0.0503872335f, 0.0459070951f, 0.0370505005f, 0.024661772f,
    0.00992196985f, -0.0329746939f, -0.0402783565f, -0.0437421687f, -0.0430359095f,
    -0.0382269211f, -0.029773647f, -0.0184819661f, -0.00542834867f, 0.0f, 0.0f, 0.0f,
    0.0f, 0.0f, 0.0f, 0.0f, 0.0f, 0.0f, 0.0f, 0.0f, 0.0f, 0.0f, 0.0f, 0.0f, 0.0f,
};
const std::vector<float> kCrossDValue = {
    -0.00491638063f, -0.00741617009f, -0.00920895115f, -0.0101238173f, -0.0100735584f,
    -0.00906294771f, -0.00718834531f, -0.00462845946f, 0.000797232671f, 0.00128172198f,
    0.00164402078f, 0.00184959034f, 0.00187883386f, 0.00172896171f, 0.00141426316f,
    0.000964739243f, 0.0163541641f, 0.0255465023f, 0.0323034227f, 0.0359807611f,
    0.0362279713f, 0.0330214389f, 0.0266668908f, 0.0177701153f, -0.00395161891f,
    -0.00694697443f, -0.00928005204f, -0.0107284356f, -0.0111540463f, -0.010516312f,
    -0.00887602754f, -0.00638956716f, 0.000111758709f, 0.000553616672f, 0.000942696468f,
    0.00124190678f, 0.00142272236f, 0.00146790582f, 0.00137314945f, 0.00114748697f,
    -0.0052549867f, -0.00206368882f, 0.00132434536f, 0.00458612852f, 0.00741069578f,
    0.00952879339f, 0.0107384715f, 0.0109244268f, 0.00269209873f, -0.00312391948f,
    -0.00864213239f, -0.0133364666f, -0.0167593937f, -0.0185846016f, -0.0186380912f,
    -0.0169147439f, 0.007219797f, 0.00687493011f, 0.00587465148f, 0.00431433506f,
    0.00234271633f, 0.000147758517f, -0.00206128438f, -0.00407381915f, 0.0f, 0.0f, 0.0f,
    0.0f, 0.0f, 0.0f, 0.0f, 0.0f, 0.0f, 0.0f, 0.0f, 0.0f, 0.0f, 0.0f, 0.0f, 0.0f,
};
// Causal self-attention.
const std::vector<float> kCausalX = {
    0.238403201f, 0.869144619f, 1.18638217f, 1.07568693f, 0.576987147f, -0.12983416f,
    -0.789823771f, -1.16492081f, -1.11982632f, -0.670805991f, 0.0201766808f, 0.703881562f,
    1.13369358f, 1.15457785f, 0.759001255f, 0.0896499455f, -0.612038434f, -1.09296215f,
    -1.17965007f, -0.840833545f, -0.198725015f, 0.515064418f, 1.04306805f, 1.19483292f,
    0.91561681f, 0.306134105f, -0.413772404f, -0.984429598f, -1.19999909f, -0.98272413f,
    -0.410976738f, 0.309011608f, 0.917538285f, 1.1951052f, 1.04159296f, 0.512374043f,
    -0.201660261f, -0.842954874f, -1.18019235f, -1.09172976f, -0.609475911f,
    0.0926183239f, 0.761304736f, 1.15538549f, 1.13271415f, 0.701468349f, 0.0172000695f,
    -0.673272312f, -1.12089276f, -1.16420269f, -0.787580132f, -0.126874268f, 0.579595625f,
    1.07700312f, 1.18593121f, 0.867089331f, 0.235484838f, -0.481059968f, -1.02408457f,
    -1.19771779f, -0.939329445f, -0.342121243f, 0.378491402f, 0.96258074f,
};
const std::vector<float> kCausalY = {
    -0.0352745317f, 0.218391284f, -0.0713116676f, 0.153186649f, -0.239937812f,
    0.0473286211f, -0.153060555f, 0.127312034f, -0.220971495f, 0.428256273f,
    -0.286795437f, 0.355242789f, -0.410706937f, 0.171716869f, -0.220073506f, 0.131026447f,
    -0.296638012f, 0.560624659f, -0.464165986f, 0.561937928f, -0.628457308f, 0.381276011f,
    -0.402918816f, 0.270996541f, 0.358777732f, -0.144029453f, 0.227443442f,
    -0.0554967262f, -0.139771223f, 0.0645325184f, -0.286114305f, 0.364455253f,
    0.31327644f, -0.180565789f, 0.34278816f, -0.239454657f, 0.0965401158f, -0.203245223f,
    -0.0105386339f, 0.105439216f, 0.152599812f, 0.00255928934f, 0.153400972f,
    -0.0605446734f, -0.0560790077f, -0.0904067457f, -0.0736230165f, 0.113193467f,
    -0.298939973f, 0.550416648f, -0.442350149f, 0.530442655f, -0.590066433f, 0.339382648f,
    -0.361225963f, 0.233189344f, -0.0669394433f, 0.317740142f, -0.229563788f,
    0.356354088f, -0.470062912f, 0.284071267f, -0.375495434f, 0.315778434f,
};
const std::vector<float> kCausalDx = {
    0.000319790095f, -0.0229709111f, -0.0440717265f, -0.0609710701f, -0.0720578581f,
    -0.0762751698f, -0.0732209384f, -0.0631863624f, -0.0143762939f, 0.0183613412f,
    0.0493485183f, 0.0756311715f, 0.0947036892f, 0.104747824f, 0.104806051f,
    0.0948728472f, 0.011839252f, 0.0133097842f, 0.0135114528f, 0.0124250464f,
    0.0101541057f, 0.00691517442f, 0.00301696826f, -0.00116883474f, 0.0335321426f,
    0.0122304363f, -0.0102372319f, -0.0317289606f, -0.050195884f, -0.0638774782f,
    -0.0714694485f, -0.0722480491f, -0.0169094726f, -0.00782218948f, 0.00201079994f,
    0.0116520897f, 0.0201825574f, 0.0267889556f, 0.0308414977f, 0.0319538303f,
    -0.0409480408f, -0.0351737402f, -0.0260462221f, -0.0144356396f, -0.00144887716f,
    0.0116760219f, 0.023687806f, 0.0334413648f, 0.0145226009f, -0.00625932589f,
    -0.0264445357f, -0.0441087112f, -0.0575678758f, -0.0655389279f, -0.067261979f,
    -0.0625727475f, 0.00974876434f, 0.00107337348f, -0.00770434644f, -0.0157475881f,
    -0.0222895667f, -0.0267066211f, -0.0285776556f, -0.0277242977f,
};
// ---- End of the output of nn/testdata/attention_pytorch.py.





// The PyTorch weights, in Keras' layouts, into a layer built for embed_dim 8.
void SetPyTorchWeights(MultiHeadAttention& mha) {
  const std::vector<std::pair<std::string, const std::vector<float>*>> weights = {
      {"query/kernel", &kQueryKernel}, {"query/bias", &kQueryBias},
      {"key/kernel", &kKeyKernel},     {"key/bias", &kKeyBias},
      {"value/kernel", &kValueKernel}, {"value/bias", &kValueBias},
      {"attention_output/kernel", &kOutputKernel}, {"attention_output/bias", &kOutputBias}};
  const NamedTensors params = mha.NamedParameters();
  ASSERT_EQ(params.size(), weights.size());
  for (size_t i = 0; i < weights.size(); ++i) {
    ASSERT_EQ(params[i].first, weights[i].first);
    ASSERT_EQ(params[i].second.numel(), static_cast<int64_t>(weights[i].second->size()));
    Tensor p = params[i].second;
    std::copy(weights[i].second->begin(), weights[i].second->end(), p.data());
  }
}

TEST(MultiHeadAttentionTest, CrossAttentionWithPaddingMatchesPyTorch) {
  ClearSession();
  MultiHeadAttention mha(2, 4);
  mha.BuildMerge({{3, 8}, {5, 8}, {5, 8}});
  SetPyTorchWeights(mha);
  Tensor q = Leaf(kCrossQuery, {2, 3, 8}), k = Leaf(kCrossKey, {2, 5, 8}),
         v = Leaf(kCrossValue, {2, 5, 8});
  const Tensor mask = Tensor::FromVector({1, 1, 1, 1, 1, 1, 1, 1, 0, 0}, {2, 1, 5});
  mha.Train();
  Tensor y = mha.Attend(q, v, k, mask);
  Sum(Mul(y, CosineWeights(y.shape()))).Backward();
  ExpectNear(y, kCrossY, "output");
  ExpectNear(q.grad(), kCrossDQuery, "query gradient");
  ExpectNear(k.grad(), kCrossDKey, "key gradient");
  ExpectNear(v.grad(), kCrossDValue, "value gradient");
}

TEST(MultiHeadAttentionTest, CausalSelfAttentionMatchesPyTorch) {
  ClearSession();
  MultiHeadAttention mha(MultiHeadAttentionOptions(2, 4).UseCausalMask(true));
  Tensor x = Leaf(kCausalX, {2, 4, 8});
  mha.BuildMerge({{4, 8}, {4, 8}});
  SetPyTorchWeights(mha);
  Tensor y = mha({x, x});
  Sum(Mul(y, CosineWeights(y.shape()))).Backward();
  ExpectNear(y, kCausalY, "output");
  ExpectNear(x.grad(), kCausalDx, "input gradient");
}

TEST(MultiHeadAttentionTest, KerasWeightsShapesAndErrors) {
  ClearSession();
  MultiHeadAttention mha(MultiHeadAttentionOptions(3, 5).ValueDim(2).OutputDim(7));
  EXPECT_EQ(mha.name(), "multi_head_attention");
  mha.BuildMerge({{4, 6}, {9, 10}, {9, 11}});
  EXPECT_EQ(mha.output_shape(), (Shape{4, 7}));
  const std::vector<std::pair<std::string, Shape>> want = {
      {"query/kernel", {6, 3, 5}}, {"query/bias", {3, 5}},
      {"key/kernel", {11, 3, 5}},  {"key/bias", {3, 5}},
      {"value/kernel", {10, 3, 2}}, {"value/bias", {3, 2}},
      {"attention_output/kernel", {3, 2, 7}}, {"attention_output/bias", {7}}};
  const NamedTensors p = mha.NamedParameters();
  ASSERT_EQ(p.size(), want.size());
  for (size_t i = 0; i < p.size(); ++i) {
    EXPECT_EQ(p[i].first, want[i].first);
    EXPECT_EQ(p[i].second.shape(), want[i].second) << want[i].first;
  }
  MultiHeadAttention no_bias(MultiHeadAttentionOptions(2, 3).UseBias(false));
  no_bias.BuildMerge({{4, 6}, {4, 6}});
  EXPECT_EQ(no_bias.NamedParameters().size(), 4u);
  EXPECT_EQ(no_bias.output_shape(), (Shape{4, 6}));
  EXPECT_EQ(ErrorOf([] { MultiHeadAttention(0, 4); }).substr(0, 20), "MultiHeadAttention: ");
  EXPECT_EQ(ErrorOf([] { MultiHeadAttention(MultiHeadAttentionOptions(2, 4).Dropout(1.0)); }),
            "MultiHeadAttention: dropout must be in [0, 1), got 1");
  EXPECT_EQ(ErrorOf([] {
              MultiHeadAttention m(2, 4);
              m.BuildMerge({{4, 6}, {5, 6}, {6, 6}});
            }),
            "multi_head_attention_4 (MultiHeadAttention): key (None, 6, 6) and value "
            "(None, 5, 6) differ in length");
  EXPECT_EQ(ErrorOf([] {
              MultiHeadAttention m(2, 4);
              m.BuildMerge({{4, 6, 2}, {5, 6}});
            }),
            "multi_head_attention_5 (MultiHeadAttention): expects sequences (None, length, "
            "features), got (None, 4, 6, 2)");
}

// A query that may attend to nothing gets zeros from the heads: the output is the output
// bias. Dropout changes training outputs only, and by the step.
TEST(MultiHeadAttentionTest, FullyMaskedQueriesAndDropout) {
  ClearSession();
  Generator gen(4);
  MultiHeadAttention mha(MultiHeadAttentionOptions(2, 3).BiasInitializer(RandomUniform(-1, 1)));
  const Tensor x = Tensor::Uniform({2, 4, 6}, -1.f, 1.f, gen);
  mha.BuildMerge({{4, 6}, {4, 6}});
  const Tensor none = Tensor::Zeros({2, 1, 4});
  const std::vector<float> y = mha.Attend(x, x, Tensor(), none).ToVector();
  const std::vector<float> bias = mha.NamedParameters().back().second.ToVector();
  for (size_t i = 0; i < y.size(); ++i) EXPECT_EQ(y[i], bias[i % 6]);
  MultiHeadAttention dropped(MultiHeadAttentionOptions(2, 3).Dropout(0.5).Seed(9));
  dropped.BuildMerge({{4, 6}, {4, 6}});
  dropped.Eval();
  const std::vector<float> eval = dropped({x, x}).ToVector();
  dropped.Train();
  EXPECT_NE(dropped({x, x}).ToVector(), eval);
  dropped.Eval();
  EXPECT_EQ(dropped({x, x}).ToVector(), eval);
}

TEST(MultiHeadAttentionTest, GradientCheck) {
  ClearSession();
  MultiHeadAttention mha(MultiHeadAttentionOptions(2, 3).BiasInitializer(RandomUniform(-1, 1)));
  mha.BuildMerge({{3, 4}, {5, 4}});
  Generator gen(5);
  const Tensor mask = Tensor::FromVector({1, 1, 1, 1, 0, 1, 0, 1, 1, 1}, {2, 1, 5});
  std::vector<Tensor> in = {Tensor::Uniform({2, 3, 4}, -1.f, 1.f, gen).SetRequiresGrad(),
                            Tensor::Uniform({2, 5, 4}, -1.f, 1.f, gen).SetRequiresGrad()};
  for (const Tensor& p : mha.Parameters()) in.push_back(p);
  const GradCheckResult r = GradCheck(
      [&](const std::vector<Tensor>& v) { return mha.Attend(v[0], v[1], Tensor(), mask); }, in);
  EXPECT_TRUE(r.ok) << r.message;
  EXPECT_GT(r.checked, 0);
}

// Self-attention in a functional model learns a task that needs it: whether the first
// token's value appears again later in the sequence.
TEST(MultiHeadAttentionTest, TrainsInAFunctionalModel) {
  ClearSession();
  const int64_t n = 256, t = 6;
  Generator gen(6);
  Tensor x = Tensor::Zeros({n, t, 4}), y = Tensor::Zeros({n, 2});
  for (int64_t i = 0; i < n; ++i) {
    const int64_t first = static_cast<int64_t>(gen.NextU64() % 4);
    bool again = false;
    for (int64_t p = 0; p < t; ++p) {
      const int64_t token = p == 0 ? first : static_cast<int64_t>(gen.NextU64() % 4);
      again = again || (p > 0 && token == first);
      x.data()[(i * t + p) * 4 + token] = 1.f;
    }
    y.data()[i * 2 + (again ? 1 : 0)] = 1.f;
  }
  auto in = Input({t, 4});
  auto h = Dense(16)(in);
  auto a = MultiHeadAttention(2, 8)({h, h});
  auto out = Dense(2, kSoftmax)(Flatten()(a));
  Model model(in, out, 3);
  model.Compile(CategoricalCrossentropy(), Adam(AdamOptions().LearningRate(0.01)),
                {"accuracy"});
  const History hist = model.Fit(x, y, FitOptions().Epochs(20).BatchSize(32).Verbose(0));
  EXPECT_GT(hist.history.at("accuracy").back(), 0.9);
  // ONNX export (its numbers are checked by ONNX Runtime in //nn:onnx_layer_cases).
  const absl::Status onnx = SaveOnnx(model, ::testing::TempDir() + "/attention.onnx");
  EXPECT_TRUE(onnx.ok()) << onnx;
}

// PositionEmbedding: the table's first T rows for every sample, whatever the input's values;
// the gradient sums the samples'; errors.
TEST(PositionEmbeddingTest, RowsForEveryPositionAndTheirGradient) {
  ClearSession();
  PositionEmbedding pos(PositionEmbeddingOptions(6).EmbeddingsInitializer(RandomNormal(0, 1)));
  EXPECT_EQ(pos.name(), "position_embedding");
  Generator gen(2);
  const Tensor x = Tensor::Uniform({3, 4, 5}, -1.f, 1.f, gen);
  const Tensor y = pos(x);
  ASSERT_EQ(y.shape(), (Shape{3, 4, 5}));
  ASSERT_EQ(pos.embeddings().shape(), (Shape{6, 5}));
  const std::vector<float> table = pos.embeddings().ToVector(), got = y.ToVector();
  for (int64_t i = 0; i < y.numel(); ++i) EXPECT_EQ(got[i], table[i % 20]) << i;
  const Tensor w = Tensor::Uniform(y.shape(), -1.f, 1.f, gen);
  Sum(Mul(y, w)).Backward();
  const std::vector<float> grad = pos.embeddings().grad().ToVector();
  for (int64_t r = 0; r < 6; ++r) {
    for (int64_t c = 0; c < 5; ++c) {
      double want = 0;
      for (int64_t n = 0; n < 3 && r < 4; ++n) want += w.data()[(n * 4 + r) * 5 + c];
      EXPECT_NEAR(grad[r * 5 + c], want, 1e-6) << r << ", " << c;
    }
  }
  EXPECT_EQ(ErrorOf([] {
              PositionEmbedding p(3);
              p.Build({4, 2});
            }),
            "position_embedding_1 (PositionEmbedding): input (None, 4, 2) is longer than "
            "sequence_length 3");
}

}  // namespace
}  // namespace nn
}  // namespace gradway
