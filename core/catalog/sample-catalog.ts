/**
 * The sample catalog: a deterministic store of ~10,000 products in 9 departments and 61 categories under them, as
 * `catalog import` lines. The same seed always gives the same lines, byte for byte (a seeded PRNG, no clock,
 * no Math.random), so the demo, the golden search set and the benchmarks all see one catalog.
 *
 * Besides the generated products it holds a few dozen hand-written "hero" products with distinctive names
 * (the golden queries look for them) and the demo's console, FG-CONSOLE-1, which the demo's sale sells.
 * Images are paths on the edge (`/img/p/<slug>/<n>.svg`), drawn there as placeholders: no external assets.
 */
import type { z } from 'zod'
import type { ImportCategoryLine, ImportProductLine } from '../../contracts/index.ts'

type CategoryLine = z.input<typeof ImportCategoryLine>
type ProductLine = z.input<typeof ImportProductLine>
export type SampleLine = CategoryLine | ProductLine

export const SAMPLE_SEED = 20_261_201
export const SAMPLE_PRODUCTS = 10_000

/** mulberry32: small, fast, and the same on every machine. */
export function seededRandom(seed: number): () => number {
  let a = seed >>> 0
  return () => {
    a = (a + 0x6d2b79f5) >>> 0
    let t = a
    t = Math.imul(t ^ (t >>> 15), t | 1)
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61)
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296
  }
}

export function slugify(text: string): string {
  return text
    .normalize('NFKD')
    .replace(/[\u0300-\u036f]/g, '')
    .toLowerCase()
    .replace(/[^a-z0-9]+/g, '-')
    .replace(/^-+|-+$/g, '')
}

type Kind = 'tech' | 'apparel' | 'shoes' | 'home' | 'plain' | 'book'

interface Leaf {
  slug: string
  name: string
  noun: string
  adjectives: string[]
  brands: string[]
  /** Typical price range, dollars. */
  price: [number, number]
  kind: Kind
}

interface Department {
  slug: string
  name: string
  leaves: Leaf[]
}

const leaf = (
  name: string,
  noun: string,
  adjectives: string,
  brands: string,
  price: [number, number],
  kind: Kind,
): Leaf => ({
  slug: slugify(name),
  name,
  noun,
  adjectives: adjectives.split(','),
  brands: brands.split(','),
  price,
  kind,
})

export const DEPARTMENTS: Department[] = [
  {
    slug: 'electronics',
    name: 'Electronics',
    leaves: [
      leaf(
        'Phones',
        'Smartphone',
        'Pro,Max,Lite,Ultra,Mini,Plus',
        'Novaphone,Zenitel,Orbis,Pixelle,Kairo',
        [199, 1399],
        'tech',
      ),
      leaf(
        'Laptops',
        'Laptop',
        'Ultrabook,Pro,Air,Gaming,Creator,Slim',
        'Vertex,Lumina,Corvid,Nimbus,Halcyon',
        [499, 2999],
        'tech',
      ),
      leaf('Tablets', 'Tablet', 'Pro,Mini,Kids,Plus,Paper', 'Pixelle,Orbis,Slate & Co,Kairo', [129, 1299], 'tech'),
      leaf(
        'Headphones',
        'Headphones',
        'Wireless,Noise-Cancelling,Studio,Sport,Over-Ear,Open-Back',
        'Sonix,Auralis,Bassline,Koto,Resonance',
        [29, 549],
        'tech',
      ),
      leaf(
        'Earbuds',
        'Earbuds',
        'True Wireless,Sport,Noise-Cancelling,Mini',
        'Sonix,Auralis,Koto,Pebble Audio',
        [19, 299],
        'tech',
      ),
      leaf(
        'Speakers',
        'Speaker',
        'Bluetooth,Smart,Portable,Waterproof,Party',
        'Bassline,Resonance,Tidewave,Sonix',
        [39, 699],
        'tech',
      ),
      leaf(
        'Cameras',
        'Camera',
        'Mirrorless,Action,Instant,Compact,Full-Frame',
        'Optiq,Leuchtkraft,Fotonix,Kestrel Optics',
        [149, 3499],
        'tech',
      ),
      leaf(
        'Televisions',
        'Television',
        '4K,OLED,QLED,Smart,8K',
        'Vistara,Lumina,Zenitel,Panorama',
        [249, 4999],
        'tech',
      ),
      leaf(
        'Smartwatches',
        'Smartwatch',
        'Sport,Classic,GPS,Active,Titanium',
        'Chronos,Orbis,Pulse,Kairo',
        [79, 899],
        'tech',
      ),
      leaf(
        'Gaming Consoles',
        'Console',
        'Portable,Home,Retro,Handheld',
        'Playforge,Arcadia,Vortex Games',
        [149, 699],
        'tech',
      ),
      leaf(
        'Monitors',
        'Monitor',
        'Curved,Gaming,4K,Ultrawide,Portable',
        'Vistara,Vertex,Panorama,Halcyon',
        [119, 1899],
        'tech',
      ),
    ],
  },
  {
    slug: 'home-kitchen',
    name: 'Home & Kitchen',
    leaves: [
      leaf(
        'Coffee Machines',
        'Espresso Machine',
        'Automatic,Manual,Dual Boiler,Compact,Barista',
        'Caffè Rossi,Brewline,Moka Nova,Crema',
        [89, 2499],
        'home',
      ),
      leaf(
        'Blenders',
        'Blender',
        'High-Speed,Personal,Immersion,Vacuum',
        'Vortexa,Nutrimix,Brewline',
        [29, 599],
        'home',
      ),
      leaf(
        'Cookware',
        'Frying Pan',
        'Cast Iron,Non-Stick,Stainless,Copper,Carbon Steel',
        'Ferro,Cuisinière,Hearthstone,Le Feu',
        [19, 449],
        'home',
      ),
      leaf(
        'Kitchen Knives',
        'Chef Knife',
        'Damascus,Forged,Ceramic,Santoku,Paring',
        'Hoshiro,Klingen,Ferro,Tanto',
        [15, 399],
        'home',
      ),
      leaf(
        'Vacuum Cleaners',
        'Vacuum Cleaner',
        'Cordless,Robot,Upright,Handheld,Bagless',
        'Cyclonic,Dustless,Aeris,Vortexa',
        [59, 999],
        'home',
      ),
      leaf(
        'Air Purifiers',
        'Air Purifier',
        'HEPA,Smart,Quiet,Tower,Desktop',
        'Aeris,Purewind,Nordic Air',
        [49, 799],
        'home',
      ),
      leaf(
        'Lighting',
        'Lamp',
        'Desk,Floor,Smart,Pendant,Reading',
        'Lumière,Glowhaus,Nordlys,Lantern & Co',
        [15, 499],
        'home',
      ),
      leaf('Bedding', 'Duvet', 'Down,Linen,Cotton,Silk,All-Season', 'Slumbera,Nordlys,Cloudnest', [39, 599], 'home'),
      leaf(
        'Furniture',
        'Armchair',
        'Lounge,Recliner,Accent,Swivel,Velvet',
        'Holmgard,Atelier Sud,Oakline',
        [149, 2499],
        'home',
      ),
    ],
  },
  {
    slug: 'sports-outdoors',
    name: 'Sports & Outdoors',
    leaves: [
      leaf(
        'Running Shoes',
        'Running Shoe',
        'Trail,Road,Racing,Cushioned,Minimalist',
        'Stridex,Velox,Aeropace,Trailhawk',
        [49, 249],
        'shoes',
      ),
      leaf(
        'Bikes',
        'Bike',
        'Road,Mountain,Gravel,Electric,Folding',
        'Kestrel Cycles,Velocita,Ridgeback,Monte Alto',
        [299, 6999],
        'plain',
      ),
      leaf(
        'Tents',
        'Tent',
        '2-Person,Ultralight,Family,4-Season,Backpacking',
        'Summit Gear,Nordkap,Trailhawk,Basecamp',
        [59, 899],
        'plain',
      ),
      leaf(
        'Backpacks',
        'Backpack',
        'Hiking,Daypack,Travel,Hydration,Laptop',
        'Summit Gear,Packwell,Nordkap,Urbanite',
        [29, 349],
        'apparel',
      ),
      leaf('Yoga', 'Yoga Mat', 'Cork,Travel,Extra-Thick,Eco,Grip', 'Zenflow,Asana Lab,Lotus & Co', [19, 149], 'plain'),
      leaf(
        'Fitness Trackers',
        'Fitness Tracker',
        'Slim,GPS,Heart-Rate,Waterproof',
        'Pulse,Chronos,Stridex',
        [29, 299],
        'tech',
      ),
      leaf(
        'Climbing',
        'Climbing Harness',
        'Sport,Alpine,Trad,Lightweight',
        'Cragline,Nordkap,Summit Gear',
        [39, 249],
        'plain',
      ),
      leaf(
        'Skis',
        'Ski',
        'All-Mountain,Powder,Touring,Carving',
        'Alpenglow,Montblanc Sport,Nordkap',
        [199, 1199],
        'plain',
      ),
      leaf(
        'Camping Stoves',
        'Camping Stove',
        'Ultralight,Multi-Fuel,Canister,Wood-Burning',
        'Basecamp,Summit Gear,Trailhawk',
        [25, 249],
        'plain',
      ),
    ],
  },
  {
    slug: 'fashion',
    name: 'Fashion',
    leaves: [
      leaf(
        'Sneakers',
        'Sneaker',
        'Classic,High-Top,Low-Top,Canvas,Leather',
        'Urbanite,Velox,Streetline,Atelier Sud',
        [39, 299],
        'shoes',
      ),
      leaf(
        'Jackets',
        'Jacket',
        'Rain,Down,Denim,Leather,Softshell',
        'Nordkap,Atelier Sud,Holmgard,Urbanite',
        [49, 699],
        'apparel',
      ),
      leaf(
        'Jeans',
        'Jeans',
        'Slim,Straight,Relaxed,Selvedge,Bootcut',
        'Indigo Row,Streetline,Denimworks',
        [29, 249],
        'apparel',
      ),
      leaf(
        'T-Shirts',
        'T-Shirt',
        'Organic,Graphic,Pocket,Merino,Oversized',
        'Streetline,Basico,Urbanite',
        [9, 79],
        'apparel',
      ),
      leaf(
        'Dresses',
        'Dress',
        'Summer,Wrap,Maxi,Midi,Linen',
        'Atelier Sud,Maison Céleste,Florette',
        [29, 399],
        'apparel',
      ),
      leaf(
        'Watches',
        'Watch',
        'Automatic,Chronograph,Diver,Dress,Field',
        'Chronos,Horlogerie Jura,Tidewave',
        [59, 2999],
        'plain',
      ),
      leaf(
        'Sunglasses',
        'Sunglasses',
        'Polarized,Aviator,Round,Sport,Cat-Eye',
        'Solstice,Optiq,Riviera',
        [19, 349],
        'plain',
      ),
      leaf('Scarves', 'Scarf', 'Cashmere,Wool,Silk,Knit', 'Maison Céleste,Holmgard,Basico', [15, 249], 'plain'),
    ],
  },
  {
    slug: 'beauty',
    name: 'Beauty',
    leaves: [
      leaf(
        'Skincare',
        'Moisturizer',
        'Hydrating,Night,Vitamin C,Mineral,Retinol',
        'Dermaé,Purelle,Botanica',
        [9, 149],
        'plain',
      ),
      leaf(
        'Fragrance',
        'Eau de Parfum',
        'Floral,Woody,Citrus,Amber,Fresh',
        'Maison Céleste,Parfums Éclat,Botanica',
        [29, 299],
        'plain',
      ),
      leaf(
        'Haircare',
        'Shampoo',
        'Repair,Volume,Curl,Color-Safe,Clarifying',
        'Purelle,Botanica,Salon Nova',
        [7, 59],
        'plain',
      ),
      leaf('Makeup', 'Lipstick', 'Matte,Satin,Gloss,Long-Wear', 'Éclat,Velvetine,Purelle', [7, 59], 'plain'),
      leaf(
        'Shaving',
        'Safety Razor',
        'Double-Edge,Adjustable,Travel,Heavy',
        'Barberline,Klingen,Gentry',
        [15, 149],
        'plain',
      ),
    ],
  },
  {
    slug: 'toys-games',
    name: 'Toys & Games',
    leaves: [
      leaf(
        'Board Games',
        'Board Game',
        'Strategy,Family,Party,Cooperative,Deck-Building',
        'Meeple House,Gamewright,Tabletop Co',
        [14, 129],
        'plain',
      ),
      leaf(
        'Building Sets',
        'Building Set',
        'Castle,Spaceship,City,Robot,Race Car',
        'Brickforge,Blocksmith,Constructo',
        [14, 499],
        'plain',
      ),
      leaf(
        'Puzzles',
        'Jigsaw Puzzle',
        '1000-Piece,500-Piece,3D,Wooden,Panorama',
        'Puzzlewood,Tabletop Co,Gamewright',
        [9, 79],
        'plain',
      ),
      leaf('RC Cars', 'RC Car', 'Off-Road,Drift,Rock Crawler,Racing', 'Voltrax,Turbo Kids,Arcadia', [29, 399], 'plain'),
      leaf('Plush Toys', 'Plush Bear', 'Giant,Mini,Weighted,Classic', 'Cuddlebug,Snugglo,Teddyworks', [9, 89], 'plain'),
    ],
  },
  {
    slug: 'books-media',
    name: 'Books & Media',
    leaves: [
      leaf(
        'Novels',
        'Novel',
        'Mystery,Sci-Fi,Romance,Historical,Thriller',
        'Penwright Press,Quill & Ink,Harbor Books',
        [8, 35],
        'book',
      ),
      leaf(
        'Cookbooks',
        'Cookbook',
        'Vegan,Baking,Italian,Grilling,Weeknight',
        'Penwright Press,Harbor Books,Gourmand',
        [15, 59],
        'book',
      ),
      leaf(
        'Comics',
        'Graphic Novel',
        'Superhero,Manga,Indie,Fantasy',
        'Inkwell Comics,Panel House,Quill & Ink',
        [9, 49],
        'book',
      ),
      leaf(
        'Vinyl Records',
        'Vinyl LP',
        'Jazz,Rock,Soul,Classical,Electronic',
        'Groove Cellar,Blue Note House,Analog Sound',
        [19, 69],
        'plain',
      ),
    ],
  },
  {
    slug: 'garden-tools',
    name: 'Garden & Tools',
    leaves: [
      leaf(
        'Power Drills',
        'Cordless Drill',
        'Brushless,Compact,Hammer,Right-Angle',
        'Torqmaster,Ironhand,Voltrax',
        [49, 399],
        'plain',
      ),
      leaf(
        'Lawn Mowers',
        'Lawn Mower',
        'Robotic,Electric,Push,Self-Propelled',
        'Greenblade,Torqmaster,Yardhawk',
        [149, 1999],
        'plain',
      ),
      leaf(
        'Grills',
        'Grill',
        'Charcoal,Gas,Pellet,Kamado,Portable',
        'Emberline,Hearthstone,Smokehaus',
        [59, 1999],
        'plain',
      ),
      leaf(
        'Garden Hoses',
        'Garden Hose',
        'Expandable,Heavy-Duty,Coiled,Soaker',
        'Greenblade,Aquaflow,Yardhawk',
        [15, 129],
        'plain',
      ),
      leaf(
        'Tool Sets',
        'Tool Set',
        'Mechanic,Precision,Household,Socket',
        'Ironhand,Torqmaster,Klingen',
        [19, 599],
        'plain',
      ),
    ],
  },
  {
    slug: 'pet-supplies',
    name: 'Pet Supplies',
    leaves: [
      leaf(
        'Dog Beds',
        'Dog Bed',
        'Orthopedic,Calming,Elevated,Cooling',
        'Pawsome,Barkley & Co,Cloudnest',
        [19, 249],
        'plain',
      ),
      leaf(
        'Cat Trees',
        'Cat Tree',
        'Tall,Wall-Mounted,Sisal,Modern',
        'Whiskerworks,Pawsome,Felix & Friends',
        [29, 299],
        'plain',
      ),
      leaf('Aquariums', 'Aquarium', 'Nano,Reef,Planted,Bowfront', 'Aquaflow,Coral Bay,Tidewave', [39, 899], 'plain'),
      leaf(
        'Pet Food',
        'Dog Food',
        'Grain-Free,Puppy,Senior,Salmon,Lamb',
        'Barkley & Co,Nutripaw,Wildfeast',
        [9, 99],
        'plain',
      ),
      leaf(
        'Dog Toys',
        'Chew Toy',
        'Indestructible,Squeaky,Rope,Puzzle',
        'Pawsome,Barkley & Co,Chewtopia',
        [5, 39],
        'plain',
      ),
    ],
  },
]

const COLORS = [
  'Black',
  'White',
  'Silver',
  'Graphite',
  'Midnight Blue',
  'Forest Green',
  'Sand',
  'Coral',
  'Burgundy',
  'Slate',
]
const STORAGE = ['64GB', '128GB', '256GB', '512GB', '1TB']
const APPAREL_SIZES = ['XS', 'S', 'M', 'L', 'XL']
const SHOE_SIZES = ['7', '8', '9', '10', '11', '12']
const FINISHES = ['Matte', 'Gloss', 'Natural', 'Brushed']
const FORMATS = ['Hardcover', 'Paperback', 'Large Print']
const MODEL_LETTERS = 'ABCDEFGHJKLMNPRSTVXZ'

/** Hand-written products with distinctive names: the golden queries look for these, and the demo sells the console. */
export const HERO_PRODUCTS: Array<{
  slug: string
  name: string
  brand: string
  category: string
  price: number
  sku: string
  description: string
}> = [
  {
    slug: 'floodgate-demo-console',
    name: 'Floodgate Demo Console',
    brand: 'Floodgate',
    category: 'gaming-consoles',
    price: 49900,
    sku: 'FG-CONSOLE-1',
    description: 'The limited console of the Floodgate demo drop: one per shopper, while the 1,000 units last.',
  },
  {
    slug: 'aurora-espresso-machine-duo',
    name: 'Aurora Espresso Machine Duo',
    brand: 'Caffè Rossi',
    category: 'coffee-machines',
    price: 89900,
    sku: 'HERO-AURORA-DUO',
    description: 'Dual boiler espresso with a PID and a steam wand that means it.',
  },
  {
    slug: 'nordlys-down-parka',
    name: 'Nordlys Down Parka',
    brand: 'Nordkap',
    category: 'jackets',
    price: 42900,
    sku: 'HERO-NORDLYS-PARKA',
    description: 'Goose down parka rated to minus thirty, with a fur-free hood.',
  },
  {
    slug: 'creme-brulee-torch-set',
    name: 'Crème Brûlée Torch Set',
    brand: 'Cuisinière',
    category: 'cookware',
    price: 3900,
    sku: 'HERO-BRULEE-TORCH',
    description: 'A refillable kitchen torch and four ramekins for caramelised sugar tops.',
  },
  {
    slug: 'kestrel-carbon-road-bike',
    name: 'Kestrel Carbon Road Bike',
    brand: 'Kestrel Cycles',
    category: 'bikes',
    price: 349900,
    sku: 'HERO-KESTREL-CARBON',
    description: 'Full carbon frame, electronic shifting, disc brakes, 7.4 kg.',
  },
  {
    slug: 'sonix-wireless-headphones-x200',
    name: 'Sonix Wireless Headphones X200',
    brand: 'Sonix',
    category: 'headphones',
    price: 24900,
    sku: 'HERO-SONIX-X200',
    description: 'Forty hours of battery and adaptive noise cancelling.',
  },
  {
    slug: 'tidewave-waterproof-speaker-boom',
    name: 'Tidewave Waterproof Speaker Boom',
    brand: 'Tidewave',
    category: 'speakers',
    price: 12900,
    sku: 'HERO-TIDEWAVE-BOOM',
    description: 'Floats, survives sand, plays for a whole beach day.',
  },
  {
    slug: 'leuchtkraft-mirrorless-camera-m9',
    name: 'Leuchtkraft Mirrorless Camera M9',
    brand: 'Leuchtkraft',
    category: 'cameras',
    price: 219900,
    sku: 'HERO-LEUCHTKRAFT-M9',
    description: 'A 45 megapixel full-frame sensor in a rangefinder body.',
  },
  {
    slug: 'hoshiro-damascus-chef-knife',
    name: 'Hoshiro Damascus Chef Knife',
    brand: 'Hoshiro',
    category: 'kitchen-knives',
    price: 18900,
    sku: 'HERO-HOSHIRO-GYUTO',
    description: 'Sixty-seven layers of folded steel around a VG-10 core.',
  },
  {
    slug: 'cyclonic-robot-vacuum-cleaner-r7',
    name: 'Cyclonic Robot Vacuum Cleaner R7',
    brand: 'Cyclonic',
    category: 'vacuum-cleaners',
    price: 59900,
    sku: 'HERO-CYCLONIC-R7',
    description: 'Maps your home with lidar and empties itself.',
  },
  {
    slug: 'purewind-hepa-air-purifier-tower',
    name: 'Purewind HEPA Air Purifier Tower',
    brand: 'Purewind',
    category: 'air-purifiers',
    price: 32900,
    sku: 'HERO-PUREWIND-TOWER',
    description: 'True HEPA for rooms up to 80 square metres.',
  },
  {
    slug: 'lumiere-brass-reading-lamp',
    name: 'Lumière Brass Reading Lamp',
    brand: 'Lumière',
    category: 'lighting',
    price: 14900,
    sku: 'HERO-LUMIERE-BRASS',
    description: 'A warm dimmable reading lamp in solid brass.',
  },
  {
    slug: 'stridex-trail-running-shoe-apex',
    name: 'Stridex Trail Running Shoe Apex',
    brand: 'Stridex',
    category: 'running-shoes',
    price: 15900,
    sku: 'HERO-STRIDEX-APEX',
    description: 'Grippy lugs, a rock plate, and a wide toe box.',
  },
  {
    slug: 'summit-gear-ultralight-tent-zephyr',
    name: 'Summit Gear Ultralight Tent Zephyr',
    brand: 'Summit Gear',
    category: 'tents',
    price: 44900,
    sku: 'HERO-SUMMIT-ZEPHYR',
    description: 'A two-person tent that weighs under a kilogram.',
  },
  {
    slug: 'zenflow-cork-yoga-mat',
    name: 'Zenflow Cork Yoga Mat',
    brand: 'Zenflow',
    category: 'yoga',
    price: 7900,
    sku: 'HERO-ZENFLOW-CORK',
    description: 'Natural cork on a rubber base, grippier when you sweat.',
  },
  {
    slug: 'chronos-titanium-smartwatch-orbit',
    name: 'Chronos Titanium Smartwatch Orbit',
    brand: 'Chronos',
    category: 'smartwatches',
    price: 69900,
    sku: 'HERO-CHRONOS-ORBIT',
    description: 'Titanium case, sapphire glass, two weeks of battery.',
  },
  {
    slug: 'vistara-oled-television-65',
    name: 'Vistara OLED Television 65',
    brand: 'Vistara',
    category: 'televisions',
    price: 249900,
    sku: 'HERO-VISTARA-65',
    description: 'A 65 inch OLED panel with perfect blacks.',
  },
  {
    slug: 'novaphone-ultra-smartphone-9',
    name: 'Novaphone Ultra Smartphone 9',
    brand: 'Novaphone',
    category: 'phones',
    price: 119900,
    sku: 'HERO-NOVAPHONE-9',
    description: 'Periscope zoom, a 5,000 mAh battery and seven years of updates.',
  },
  {
    slug: 'vertex-gaming-laptop-blade',
    name: 'Vertex Gaming Laptop Blade',
    brand: 'Vertex',
    category: 'laptops',
    price: 229900,
    sku: 'HERO-VERTEX-BLADE',
    description: 'A thin gaming laptop with a 240 Hz panel.',
  },
  {
    slug: 'pixelle-paper-tablet-note',
    name: 'Pixelle Paper Tablet Note',
    brand: 'Pixelle',
    category: 'tablets',
    price: 39900,
    sku: 'HERO-PIXELLE-NOTE',
    description: 'An e-ink tablet you write on like paper.',
  },
  {
    slug: 'emberline-kamado-grill-egg',
    name: 'Emberline Kamado Grill Egg',
    brand: 'Emberline',
    category: 'grills',
    price: 129900,
    sku: 'HERO-EMBERLINE-EGG',
    description: 'A ceramic kamado that smokes, roasts and sears.',
  },
  {
    slug: 'torqmaster-brushless-cordless-drill',
    name: 'Torqmaster Brushless Cordless Drill',
    brand: 'Torqmaster',
    category: 'power-drills',
    price: 17900,
    sku: 'HERO-TORQMASTER-BL',
    description: 'Sixty newton metres from a brushless motor.',
  },
  {
    slug: 'greenblade-robotic-lawn-mower',
    name: 'Greenblade Robotic Lawn Mower',
    brand: 'Greenblade',
    category: 'lawn-mowers',
    price: 129900,
    sku: 'HERO-GREENBLADE-ROBO',
    description: 'Mows up to 1,500 square metres with no boundary wire.',
  },
  {
    slug: 'meeple-house-strategy-board-game-dominion',
    name: 'Meeple House Strategy Board Game Dominion',
    brand: 'Meeple House',
    category: 'board-games',
    price: 5900,
    sku: 'HERO-MEEPLE-DOMINION',
    description: 'Build an empire card by card, for two to six players.',
  },
  {
    slug: 'brickforge-spaceship-building-set',
    name: 'Brickforge Spaceship Building Set',
    brand: 'Brickforge',
    category: 'building-sets',
    price: 14900,
    sku: 'HERO-BRICKFORGE-SHIP',
    description: 'Two thousand bricks and a cockpit that opens.',
  },
  {
    slug: 'whiskerworks-sisal-cat-tree',
    name: 'Whiskerworks Sisal Cat Tree',
    brand: 'Whiskerworks',
    category: 'cat-trees',
    price: 11900,
    sku: 'HERO-WHISKER-SISAL',
    description: 'Six levels of sisal posts and a hammock on top.',
  },
  {
    slug: 'maison-celeste-eau-de-parfum-iris',
    name: 'Maison Céleste Eau de Parfum Iris',
    brand: 'Maison Céleste',
    category: 'fragrance',
    price: 13900,
    sku: 'HERO-CELESTE-IRIS',
    description: 'Powdery iris with a base of vetiver.',
  },
  {
    slug: 'horlogerie-jura-automatic-diver-watch',
    name: 'Horlogerie Jura Automatic Diver Watch',
    brand: 'Horlogerie Jura',
    category: 'watches',
    price: 189900,
    sku: 'HERO-JURA-DIVER',
    description: 'A Swiss automatic movement, water resistant to 300 metres.',
  },
  {
    slug: 'groove-cellar-jazz-vinyl-lp-blue-hour',
    name: 'Groove Cellar Jazz Vinyl LP Blue Hour',
    brand: 'Groove Cellar',
    category: 'vinyl-records',
    price: 3400,
    sku: 'HERO-GROOVE-BLUEHOUR',
    description: 'A 180 gram pressing of late-night quartet recordings.',
  },
  {
    slug: 'penwright-press-mystery-novel-the-salt-road',
    name: 'Penwright Press Mystery Novel The Salt Road',
    brand: 'Penwright Press',
    category: 'novels',
    price: 1800,
    sku: 'HERO-PENWRIGHT-SALT',
    description: 'A detective, a harbour town and a ledger that should not exist.',
  },
  {
    slug: 'aquaflow-planted-aquarium-nano',
    name: 'Aquaflow Planted Aquarium Nano',
    brand: 'Aquaflow',
    category: 'aquariums',
    price: 14900,
    sku: 'HERO-AQUAFLOW-NANO',
    description: 'A 30 litre rimless tank with a light for live plants.',
  },
  {
    slug: 'pawsome-orthopedic-dog-bed',
    name: 'Pawsome Orthopedic Dog Bed',
    brand: 'Pawsome',
    category: 'dog-beds',
    price: 8900,
    sku: 'HERO-PAWSOME-ORTHO',
    description: 'Memory foam that old joints will thank you for.',
  },
]

function pick<T>(random: () => number, items: readonly T[]): T {
  return items[Math.floor(random() * items.length)]!
}

function rotate<T>(items: readonly T[], by: number): T[] {
  return [...items.slice(by), ...items.slice(0, by)]
}

function round99(dollars: number): number {
  return Math.max(1, Math.round(dollars)) * 100 - 1
}

function variantsFor(random: () => number, kind: Kind, skuBase: string, listCents: number, onSale: boolean) {
  const dimension: Array<[string, string[]]> =
    kind === 'tech'
      ? [['storage', STORAGE.slice(0, 3 + Math.floor(random() * 3))]]
      : kind === 'apparel'
        ? [['size', APPAREL_SIZES]]
        : kind === 'shoes'
          ? [['size', SHOE_SIZES]]
          : kind === 'book'
            ? [['format', FORMATS.slice(0, 1 + Math.floor(random() * 3))]]
            : kind === 'home'
              ? [['finish', FINISHES.slice(0, 1 + Math.floor(random() * 3))]]
              : [['color', rotate(COLORS, Math.floor(random() * COLORS.length)).slice(0, 1 + Math.floor(random() * 3))]]
  const [name, values] = dimension[0]!
  const count = Math.min(values.length, 1 + Math.floor(random() * 4))
  const color = pick(random, COLORS)
  return values.slice(0, count).map((value, i) => {
    const list = kind === 'tech' ? listCents + i * Math.round((listCents * 0.15) / 100) * 100 : listCents
    const stockRoll = random()
    return {
      sku: `${skuBase}-${slugify(value).toUpperCase() || String(i)}`,
      attributes: kind === 'plain' ? { [name]: value } : { [name]: value, color },
      listPriceCents: list,
      salePriceCents: onSale ? Math.round((list * (0.7 + random() * 0.2)) / 100) * 100 - 1 : null,
      currency: 'USD',
      stock: stockRoll < 0.1 ? 0 : stockRoll < 0.2 ? 1 + Math.floor(random() * 5) : 5 + Math.floor(random() * 200),
    }
  })
}

function description(random: () => number, brand: string, adjective: string, noun: string, leafName: string): string {
  const openers = ['Built by', 'Designed by', 'From the workshop of', 'Engineered by']
  const middles = [
    `this ${adjective.toLowerCase()} ${noun.toLowerCase()} is made for every day`,
    `a ${adjective.toLowerCase()} ${noun.toLowerCase()} that lasts`,
    `the ${noun.toLowerCase()} reviewers keep recommending`,
    `a ${noun.toLowerCase()} with nothing you do not need`,
  ]
  const closers = [
    'Two-year warranty.',
    'Free returns within 30 days.',
    `One of our best sellers in ${leafName}.`,
    'Ships in recycled packaging.',
  ]
  return `${pick(random, openers)} ${brand}: ${pick(random, middles)}. ${pick(random, closers)}`
}

/**
 * The sample catalog as import lines: the 9 departments, their 61 categories, the hero products, then generated
 * products up to `products` in all, spread over every category in turn.
 */
export function sampleCatalog({ products = SAMPLE_PRODUCTS, seed = SAMPLE_SEED } = {}): SampleLine[] {
  const random = seededRandom(seed)
  const lines: SampleLine[] = []
  DEPARTMENTS.forEach((d, i) => {
    lines.push({ type: 'category', slug: d.slug, name: d.name, parent: null, position: i })
    d.leaves.forEach((l, j) =>
      lines.push({ type: 'category', slug: l.slug, name: l.name, parent: d.slug, position: j }),
    )
  })
  const leaves = DEPARTMENTS.flatMap((d) => d.leaves)
  const slugs = new Set<string>()
  for (const hero of HERO_PRODUCTS.slice(0, products)) {
    slugs.add(hero.slug)
    lines.push({
      type: 'product',
      slug: hero.slug,
      name: hero.name,
      brand: hero.brand,
      category: hero.category,
      description: hero.description,
      images: [{ url: `/img/p/${hero.slug}/1.svg`, alt: hero.name }],
      attributes: { collection: 'Featured' },
      variants: [
        { sku: hero.sku, attributes: {}, listPriceCents: hero.price, salePriceCents: null, currency: 'USD', stock: 25 },
      ],
    })
  }
  const models = new Map<string, number>()
  for (let n = slugs.size; n < products; n++) {
    const l = leaves[n % leaves.length]!
    const brand = pick(random, l.brands)
    const adjective = pick(random, l.adjectives)
    const series = `${brand}|${l.noun}`
    const count = (models.get(series) ?? 0) + 1
    models.set(series, count)
    const model = `${MODEL_LETTERS[count % MODEL_LETTERS.length]}${100 + count * 10 + Math.floor(random() * 9)}`
    const name = `${brand} ${adjective} ${l.noun} ${model}`
    let slug = slugify(name)
    if (slugs.has(slug)) slug = `${slug}-${n}`
    slugs.add(slug)
    const [low, high] = l.price
    const dollars = low * Math.exp(random() * Math.log(high / low))
    const onSale = random() < 0.2
    const brandCode = slugify(brand).replace(/-/g, '').slice(0, 6).toUpperCase()
    const skuBase = `${brandCode}-${n.toString(36).toUpperCase().padStart(4, '0')}`
    const imageCount = 1 + Math.floor(random() * 2)
    lines.push({
      type: 'product',
      slug,
      name,
      brand,
      category: l.slug,
      description: description(random, brand, adjective, l.noun, l.name),
      images: Array.from({ length: imageCount }, (_, i) => ({
        url: `/img/p/${slug}/${i + 1}.svg`,
        alt: i === 0 ? name : `${name}, view ${i + 1}`,
      })),
      attributes: {},
      variants: variantsFor(random, l.kind, skuBase, round99(dollars), onSale),
    })
  }
  return lines
}

/** The sample catalog as JSON Lines text (what `token-issuer catalog sample` writes). */
export function sampleCatalogJsonl(options: { products?: number; seed?: number } = {}): string {
  return `${sampleCatalog(options)
    .map((l) => JSON.stringify(l))
    .join('\n')}\n`
}
